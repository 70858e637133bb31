// The PostgreSQL store's WebhookStore (webhooks.ts): webhook configurations, the delivery outbox
// and presence, over the tables of postgres-schema.ts version 10. PostgresStore owns the pool
// and hands in its query and transaction helpers. Claims lease rows with FOR UPDATE SKIP LOCKED,
// so nodes sharing the database never claim one delivery at once.
import type pg from "pg";
import { AUDIENCE } from "../rules/index.js";
import type { PageQuery } from "./types.js";
import type { Row } from "./records.js";
import { spanContainsEventSql, spanSeesEventSql } from "./visibility.js";
import { toClaimed, toDeadLetter, toWebhook, webhookColumns } from "./webhook-rows.js";
import type {
  ClaimedDelivery,
  DeadLetterKey,
  DeadLetterRecord,
  NewPushDelivery,
  WebhookRecord,
  WebhookStore,
} from "./webhooks.js";

type Db = pg.Pool | pg.PoolClient;
type Rows = (db: Db, text: string, values?: unknown[]) => Promise<Row[]>;
type Transaction = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;

/** The `webhooks` columns a claim returns, prefixed `w_` (toWebhook(r, "w_")). */
export const WEBHOOK_COLUMNS =
  "w.app_id AS w_app_id, w.config AS w_config, w.secret AS w_secret, w.previous_secret AS w_previous_secret, w.previous_secret_expires_at AS w_previous_secret_expires_at";

export class PostgresWebhooks implements WebhookStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly rows: Rows,
    private readonly tx: Transaction,
  ) {}

  private async row(db: Db, text: string, values: unknown[] = []): Promise<Row | undefined> {
    return (await this.rows(db, text, values))[0];
  }

  async getWebhook(appId: string): Promise<WebhookRecord | undefined> {
    const r = await this.row(this.pool, "SELECT * FROM webhooks WHERE app_id = $1", [appId]);
    return r ? toWebhook(r) : undefined;
  }

  putWebhook(record: WebhookRecord): Promise<void> {
    const c = webhookColumns(record);
    return this.tx(async (db) => {
      // A first configuration starts with an empty outbox: a send that read the deleted
      // configuration may have recorded deliveries after DeleteWebhook's delete.
      await this.rows(
        db,
        "DELETE FROM webhook_deliveries WHERE app_id = $1 AND NOT EXISTS (SELECT 1 FROM webhooks WHERE app_id = $1)",
        [record.appId],
      );
      await this.rows(
        db,
        `INSERT INTO webhooks (app_id, config, event_mask, before_send, secret, previous_secret, previous_secret_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (app_id) DO UPDATE SET config = excluded.config, event_mask = excluded.event_mask,
           before_send = excluded.before_send, secret = excluded.secret, previous_secret = excluded.previous_secret,
           previous_secret_expires_at = excluded.previous_secret_expires_at`,
        [record.appId, c.config, c.eventMask, c.beforeSend, c.secret, c.previousSecret, c.previousSecretExpiresAt],
      );
    });
  }

  deleteWebhook(appId: string): Promise<boolean> {
    return this.tx(async (db) => {
      const deleted = await this.rows(db, "DELETE FROM webhooks WHERE app_id = $1 RETURNING app_id", [appId]);
      await this.rows(db, "DELETE FROM webhook_deliveries WHERE app_id = $1", [appId]);
      return deleted.length > 0;
    });
  }

  async claimDeliveries(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    // One statement: pick due rows no other claim holds (SKIP LOCKED; a row leased meanwhile
    // fails the re-check of locked_until), lease them, and read them with event and webhook.
    const claimed = await this.rows(
      this.pool,
      `WITH due AS (
         SELECT d.app_id, d.delivery_id FROM webhook_deliveries d
          WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND (d.locked_until IS NULL OR d.locked_until <= $1)
            AND EXISTS (SELECT 1 FROM webhooks w WHERE w.app_id = d.app_id)
          ORDER BY d.next_attempt_at LIMIT $2
          FOR UPDATE OF d SKIP LOCKED
       ), leased AS (
         UPDATE webhook_deliveries d SET locked_until = $1::bigint + $3::bigint
           FROM due WHERE d.app_id = due.app_id AND d.delivery_id = due.delivery_id
         RETURNING d.*
       )
       SELECT l.*, e.group_id AS e_group_id, e.payload AS e_payload, ${WEBHOOK_COLUMNS}
         FROM leased l
         JOIN webhooks w ON w.app_id = l.app_id
         LEFT JOIN events e ON e.app_id = l.app_id AND e.part = l.part AND e.event_id = l.event_id
        ORDER BY l.next_attempt_at, l.app_id, l.delivery_id`,
      [now, limit, leaseMs],
    );
    return claimed.map(toClaimed);
  }

  async completeDelivery(appId: string, deliveryId: string): Promise<void> {
    await this.rows(this.pool, "DELETE FROM webhook_deliveries WHERE app_id = $1 AND delivery_id = $2 AND state = 'pending'", [
      appId,
      deliveryId,
    ]);
  }

  async retryDelivery(
    appId: string,
    deliveryId: string,
    failure: { body?: string; lastError: string; now: number; nextAttemptAt: number },
  ): Promise<void> {
    await this.rows(
      this.pool,
      `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $3, locked_until = NULL, last_error = $4,
         last_attempt_at = $5, body = COALESCE($6, body)
       WHERE app_id = $1 AND delivery_id = $2 AND state = 'pending'`,
      [appId, deliveryId, failure.nextAttemptAt, failure.lastError, failure.now, failure.body ?? null],
    );
  }

  async killDelivery(appId: string, deliveryId: string, failure: { body?: string; lastError: string; now: number; url: string }): Promise<void> {
    await this.rows(
      this.pool,
      `UPDATE webhook_deliveries SET state = 'dead', attempts = attempts + 1, locked_until = NULL, last_error = $3,
         last_attempt_at = $4, url = $5, body = COALESCE($6, body)
       WHERE app_id = $1 AND delivery_id = $2 AND state = 'pending'`,
      [appId, deliveryId, failure.lastError, failure.now, failure.url, failure.body ?? null],
    );
  }

  async expandPush(appId: string, fanoutId: string, pushes: readonly NewPushDelivery[], now: number): Promise<void> {
    // One statement, so one transaction: the pushes exist only if the fanout was still there.
    await this.rows(
      this.pool,
      `WITH gone AS (
         DELETE FROM webhook_deliveries WHERE app_id = $1 AND delivery_id = $2 AND kind = 'fanout' RETURNING app_id
       )
       INSERT INTO webhook_deliveries (app_id, delivery_id, kind, type, user_id, body, state, attempts, next_attempt_at, created_at)
       SELECT gone.app_id, p.id, 'push', 'push.requested', p.user_id, p.body, 'pending', 0, $6, $6
         FROM gone, unnest($3::text[], $4::text[], $5::text[]) AS p(id, user_id, body)
       ON CONFLICT DO NOTHING`,
      [appId, fanoutId, pushes.map((p) => p.deliveryId), pushes.map((p) => p.userId), pushes.map((p) => p.body), now],
    );
  }

  async listDeadLetters(appId: string, page: PageQuery<DeadLetterKey>): Promise<DeadLetterRecord[]> {
    const after = page.after;
    const found = await this.rows(
      this.pool,
      `SELECT * FROM webhook_deliveries
        WHERE app_id = $1 AND state = 'dead'
          AND ($2::boolean IS NULL OR created_at < $3 OR (created_at = $3 AND delivery_id > $4))
        ORDER BY created_at DESC, delivery_id LIMIT $5`,
      [appId, after ? true : null, after?.createdAt ?? 0, after?.deliveryId ?? "", page.limit],
    );
    return found.map(toDeadLetter);
  }

  async pruneDeadLetters(before: number): Promise<number> {
    const r = await this.rows(this.pool, "DELETE FROM webhook_deliveries WHERE state = 'dead' AND last_attempt_at < $1 RETURNING 1", [before]);
    return r.length;
  }

  replayDeadLetters(appId: string, deliveryIds: readonly string[] | undefined, now: number): Promise<{ replayed: number; missing: string[] }> {
    return this.tx(async (db) => {
      const replay = async (ids: string[] | null) =>
        (
          await this.rows(
            db,
            `UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, locked_until = NULL
              WHERE app_id = $1 AND state = 'dead' AND ($3::text[] IS NULL OR delivery_id = ANY($3::text[]))
              RETURNING delivery_id`,
            [appId, now, ids],
          )
        ).length;
      if (deliveryIds === undefined) return { replayed: await replay(null), missing: [] };
      const ids = [...new Set(deliveryIds)];
      // FOR UPDATE: the dead letters checked stay as they are until the replay below.
      const dead = new Set(
        (
          await this.rows(
            db,
            "SELECT delivery_id FROM webhook_deliveries WHERE app_id = $1 AND state = 'dead' AND delivery_id = ANY($2::text[]) FOR UPDATE",
            [appId, ids],
          )
        ).map((r) => r.delivery_id as string),
      );
      const missing = ids.filter((id) => !dead.has(id));
      if (missing.length > 0) return { replayed: 0, missing };
      return { replayed: await replay(ids), missing: [] };
    });
  }

  async eventViewers(appId: string, partition: number, position: number): Promise<string[]> {
    // The span predicates of replay (visibility.ts); a USER event is its user's alone.
    const found = await this.rows(
      this.pool,
      `SELECT e.user_id FROM events e WHERE e.app_id = $1 AND e.part = $2 AND e.event_id = $3 AND e.audience = ${AUDIENCE.USER}
       UNION
       SELECT m.user_id FROM events e
         JOIN memberships m ON m.app_id = e.app_id AND m.group_id = e.group_id AND ${spanContainsEventSql("e", "m")}
        WHERE e.app_id = $1 AND e.part = $2 AND e.event_id = $3 AND ${spanSeesEventSql("e", "m")}
       ORDER BY 1`,
      [appId, partition, position],
    );
    return found.map((r) => r.user_id as string);
  }

  async setPresence(nodeId: string, appId: string, userId: string, online: boolean): Promise<void> {
    await this.rows(
      this.pool,
      online
        ? "INSERT INTO presence (node_id, app_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        : "DELETE FROM presence WHERE node_id = $1 AND app_id = $2 AND user_id = $3",
      [nodeId, appId, userId],
    );
  }

  async touchNode(nodeId: string, expiresAt: number): Promise<void> {
    await this.rows(
      this.pool,
      "INSERT INTO nodes (node_id, expires_at) VALUES ($1, $2) ON CONFLICT (node_id) DO UPDATE SET expires_at = excluded.expires_at",
      [nodeId, expiresAt],
    );
  }

  async dropNodes(nodeId: string | undefined, now: number): Promise<void> {
    await this.rows(
      this.pool,
      `WITH gone AS (DELETE FROM nodes WHERE node_id = $1 OR expires_at < $2 RETURNING node_id)
       DELETE FROM presence WHERE node_id = $1 OR node_id IN (SELECT node_id FROM gone)`,
      [nodeId ?? null, now],
    );
  }

  async onlineUsers(appId: string, userIds: readonly string[], now: number): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const found = await this.rows(
      this.pool,
      `SELECT DISTINCT p.user_id FROM presence p JOIN nodes n ON n.node_id = p.node_id AND n.expires_at > $3
        WHERE p.app_id = $1 AND p.user_id = ANY($2::text[])`,
      [appId, [...new Set(userIds)], now],
    );
    return new Set(found.map((r) => r.user_id as string));
  }
}
