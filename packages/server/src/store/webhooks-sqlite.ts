// The SQLite store's WebhookStore (webhooks.ts): webhook configurations, the delivery outbox and
// presence, over the tables of sqlite-schema.ts version 9. SqliteStore owns the connection and
// hands in its statement cache and transaction runner; every method is one transaction.
import type Database from "better-sqlite3";
import type { Event } from "@narrowcast/gen";
import { AUDIENCE } from "../rules/index.js";
import type { PageQuery } from "./types.js";
import type { Row } from "./records.js";
import { spanContainsEventSql, spanSeesEventSql } from "./visibility.js";
import { PUSH_BIT, deliveryIdOf, hookTypeOf, toClaimed, toDeadLetter, toWebhook, webhookColumns } from "./webhook-rows.js";
import type {
  ClaimedDelivery,
  DeadLetterKey,
  DeadLetterRecord,
  NewPushDelivery,
  WebhookRecord,
  WebhookStore,
} from "./webhooks.js";

type Prepare = (sql: string) => Database.Statement;
type Transaction = <T>(fn: () => T) => Promise<T>;

const WEBHOOK_COLUMNS =
  "w.app_id AS w_app_id, w.config AS w_config, w.secret AS w_secret, w.previous_secret AS w_previous_secret, w.previous_secret_expires_at AS w_previous_secret_expires_at";

export class SqliteWebhooks implements WebhookStore {
  constructor(
    private readonly q: Prepare,
    private readonly tx: Transaction,
  ) {}

  /**
   * Records the deliveries of a just appended event (rule HOOK-7), inside the append's
   * transaction: one "event" delivery when the app's webhook lists the event's type, and for a
   * message one "fanout" when it lists PUSH_REQUESTED (HOOK-13). One statement that matches
   * nothing for an app without a webhook.
   */
  recordDeliveries(appId: string, partition: number, position: number, event: Event, now: number): void {
    const hook = hookTypeOf(event);
    if (!hook) return;
    const fanoutBit = hook.type === "message.sent" ? PUSH_BIT : 0;
    this.q(
      `INSERT INTO webhook_deliveries (app_id, delivery_id, kind, type, part, event_id, state, attempts, next_attempt_at, created_at)
       SELECT w.app_id, k.id, k.kind, ?, ?, ?, 'pending', 0, ?, ?
         FROM webhooks w, (SELECT 'event' AS kind, ? AS bit, ? AS id UNION ALL SELECT 'fanout', ?, ?) k
        WHERE w.app_id = ? AND (w.event_mask & k.bit) <> 0`,
    ).run(
      hook.type,
      partition,
      position,
      now,
      now,
      hook.bit,
      deliveryIdOf(appId, partition, position, "event"),
      fanoutBit,
      deliveryIdOf(appId, partition, position, "fanout"),
      appId,
    );
  }

  /** The app's webhook when it has a before-send URL (SendContext.beforeSend), in the caller's read. */
  beforeSendOf(appId: string): WebhookRecord | undefined {
    const r = this.q("SELECT * FROM webhooks WHERE app_id = ? AND before_send = 1").get(appId) as Row | undefined;
    return r ? toWebhook(r) : undefined;
  }

  async getWebhook(appId: string): Promise<WebhookRecord | undefined> {
    const r = this.q("SELECT * FROM webhooks WHERE app_id = ?").get(appId) as Row | undefined;
    return r ? toWebhook(r) : undefined;
  }

  putWebhook(record: WebhookRecord): Promise<void> {
    const c = webhookColumns(record);
    return this.tx(() => {
      if (!this.q("SELECT 1 FROM webhooks WHERE app_id = ?").get(record.appId)) {
        // A first configuration starts with an empty outbox (nothing of a deleted one survives).
        this.q("DELETE FROM webhook_deliveries WHERE app_id = ?").run(record.appId);
      }
      this.q(
        `INSERT INTO webhooks (app_id, config, event_mask, before_send, secret, previous_secret, previous_secret_expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (app_id) DO UPDATE SET config = excluded.config, event_mask = excluded.event_mask,
           before_send = excluded.before_send, secret = excluded.secret, previous_secret = excluded.previous_secret,
           previous_secret_expires_at = excluded.previous_secret_expires_at`,
      ).run(record.appId, c.config, c.eventMask, c.beforeSend ? 1 : 0, c.secret, c.previousSecret, c.previousSecretExpiresAt);
    });
  }

  deleteWebhook(appId: string): Promise<boolean> {
    return this.tx(() => {
      const deleted = this.q("DELETE FROM webhooks WHERE app_id = ?").run(appId).changes > 0;
      this.q("DELETE FROM webhook_deliveries WHERE app_id = ?").run(appId);
      return deleted;
    });
  }

  claimDeliveries(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    return this.tx(() => {
      const due = this.q(
        `SELECT d.*, e.group_id AS e_group_id, e.payload AS e_payload, ${WEBHOOK_COLUMNS}
           FROM webhook_deliveries d INDEXED BY webhook_deliveries_due
           JOIN webhooks w ON w.app_id = d.app_id
           LEFT JOIN events e ON e.app_id = d.app_id AND e.part = d.part AND e.event_id = d.event_id
          WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND (d.locked_until IS NULL OR d.locked_until <= ?)
          ORDER BY d.next_attempt_at, d.app_id, d.delivery_id LIMIT ?`,
      ).all(now, now, limit) as Row[];
      const lease = this.q("UPDATE webhook_deliveries SET locked_until = ? WHERE app_id = ? AND delivery_id = ?");
      for (const r of due) lease.run(now + leaseMs, r.app_id, r.delivery_id);
      return due.map(toClaimed);
    });
  }

  completeDelivery(appId: string, deliveryId: string): Promise<void> {
    return this.tx(() => {
      this.q("DELETE FROM webhook_deliveries WHERE app_id = ? AND delivery_id = ? AND state = 'pending'").run(appId, deliveryId);
    });
  }

  retryDelivery(
    appId: string,
    deliveryId: string,
    failure: { body?: string; lastError: string; now: number; nextAttemptAt: number },
  ): Promise<void> {
    return this.tx(() => {
      this.q(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, locked_until = NULL, last_error = ?,
           last_attempt_at = ?, body = COALESCE(?, body)
         WHERE app_id = ? AND delivery_id = ? AND state = 'pending'`,
      ).run(failure.nextAttemptAt, failure.lastError, failure.now, failure.body ?? null, appId, deliveryId);
    });
  }

  killDelivery(appId: string, deliveryId: string, failure: { body?: string; lastError: string; now: number; url: string }): Promise<void> {
    return this.tx(() => {
      this.q(
        `UPDATE webhook_deliveries SET state = 'dead', attempts = attempts + 1, locked_until = NULL, last_error = ?,
           last_attempt_at = ?, url = ?, body = COALESCE(?, body)
         WHERE app_id = ? AND delivery_id = ? AND state = 'pending'`,
      ).run(failure.lastError, failure.now, failure.url, failure.body ?? null, appId, deliveryId);
    });
  }

  expandPush(appId: string, fanoutId: string, pushes: readonly NewPushDelivery[], now: number): Promise<void> {
    return this.tx(() => {
      // Only while the fanout is still there: a deleted webhook or a finished expansion adds nothing.
      const gone = this.q("DELETE FROM webhook_deliveries WHERE app_id = ? AND delivery_id = ? AND kind = 'fanout'").run(appId, fanoutId);
      if (gone.changes === 0) return;
      const insert = this.q(
        `INSERT INTO webhook_deliveries (app_id, delivery_id, kind, type, user_id, body, state, attempts, next_attempt_at, created_at)
         VALUES (?, ?, 'push', 'push.requested', ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING`,
      );
      for (const p of pushes) insert.run(appId, p.deliveryId, p.userId, p.body, now, now);
    });
  }

  async listDeadLetters(appId: string, page: PageQuery<DeadLetterKey>): Promise<DeadLetterRecord[]> {
    const after = page.after;
    const rows = this.q(
      `SELECT * FROM webhook_deliveries INDEXED BY webhook_deliveries_dead
        WHERE app_id = ? AND state = 'dead'
          AND (? IS NULL OR created_at < ? OR (created_at = ? AND delivery_id > ?))
        ORDER BY created_at DESC, delivery_id LIMIT ?`,
    ).all(appId, after ? 1 : null, after?.createdAt ?? 0, after?.createdAt ?? 0, after?.deliveryId ?? "", page.limit) as Row[];
    return rows.map(toDeadLetter);
  }

  async pruneDeadLetters(before: number): Promise<number> {
    return this.q("DELETE FROM webhook_deliveries WHERE state = 'dead' AND last_attempt_at < ?").run(before).changes;
  }

  replayDeadLetters(appId: string, deliveryIds: readonly string[] | undefined, now: number): Promise<{ replayed: number; missing: string[] }> {
    return this.tx(() => {
      const replay = (where: string, ...args: unknown[]) =>
        this.q(
          `UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, locked_until = NULL
            WHERE app_id = ? AND state = 'dead' ${where}`,
        ).run(now, appId, ...args).changes;
      if (deliveryIds === undefined) return { replayed: replay(""), missing: [] };
      const ids = [...new Set(deliveryIds)];
      const dead = new Set(
        (
          this.q(
            "SELECT delivery_id FROM webhook_deliveries WHERE app_id = ? AND state = 'dead' AND delivery_id IN (SELECT value FROM json_each(?))",
          ).all(appId, JSON.stringify(ids)) as Row[]
        ).map((r) => r.delivery_id as string),
      );
      const missing = ids.filter((id) => !dead.has(id));
      if (missing.length > 0) return { replayed: 0, missing };
      return { replayed: replay("AND delivery_id IN (SELECT value FROM json_each(?))", JSON.stringify(ids)), missing: [] };
    });
  }

  async eventViewers(appId: string, partition: number, position: number): Promise<string[]> {
    const e = this.q("SELECT audience, user_id FROM events WHERE app_id = ? AND part = ? AND event_id = ?").get(appId, partition, position) as
      | Row
      | undefined;
    if (!e) return [];
    if (e.audience === AUDIENCE.USER) return [e.user_id as string];
    // The span predicates of replay (visibility.ts): for a group event every span containing it.
    const rows = this.q(
      `SELECT DISTINCT m.user_id FROM events e
         JOIN memberships m ON m.app_id = e.app_id AND m.group_id = e.group_id AND ${spanContainsEventSql("e", "m")}
        WHERE e.app_id = ? AND e.part = ? AND e.event_id = ? AND ${spanSeesEventSql("e", "m")}
        ORDER BY m.user_id`,
    ).all(appId, partition, position) as Row[];
    return rows.map((r) => r.user_id as string);
  }

  setPresence(nodeId: string, appId: string, userId: string, online: boolean): Promise<void> {
    return this.tx(() => {
      if (online) this.q("INSERT INTO presence (node_id, app_id, user_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING").run(nodeId, appId, userId);
      else this.q("DELETE FROM presence WHERE node_id = ? AND app_id = ? AND user_id = ?").run(nodeId, appId, userId);
    });
  }

  touchNode(nodeId: string, expiresAt: number): Promise<void> {
    return this.tx(() => {
      this.q("INSERT INTO nodes (node_id, expires_at) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET expires_at = excluded.expires_at").run(
        nodeId,
        expiresAt,
      );
    });
  }

  dropNodes(nodeId: string | undefined, now: number): Promise<void> {
    return this.tx(() => {
      const gone = this.q("DELETE FROM nodes WHERE node_id = ? OR expires_at < ? RETURNING node_id").all(nodeId ?? null, now) as Row[];
      const ids = new Set(gone.map((r) => r.node_id as string));
      if (nodeId !== undefined) ids.add(nodeId);
      const drop = this.q("DELETE FROM presence WHERE node_id = ?");
      for (const id of ids) drop.run(id);
    });
  }

  async onlineUsers(appId: string, userIds: readonly string[], now: number): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const rows = this.q(
      `SELECT DISTINCT p.user_id FROM presence p INDEXED BY presence_by_user
         JOIN nodes n ON n.node_id = p.node_id AND n.expires_at > ?
        WHERE p.app_id = ? AND p.user_id IN (SELECT value FROM json_each(?))`,
    ).all(now, appId, JSON.stringify([...new Set(userIds)])) as Row[];
    return new Set(rows.map((r) => r.user_id as string));
  }
}
