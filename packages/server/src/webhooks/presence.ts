// Which users have an open event stream on this node (rule HOOK-13: push requests go only to users
// with no open stream on any node). Streams are counted locally; the store holds one row per
// (node, user) online, valid while the node keeps renewing, so a crashed node's users turn
// offline everywhere once its validity ends.
import type { Logger } from "pino";
import type { WebhookStore } from "../store/webhooks.js";

export interface PresenceOptions {
  nodeId: string;
  now: () => number;
  /** How long the node's rows stay valid without renewal; renewed every third of it. Default 30 s. */
  ttlMs?: number;
  log: Logger;
}

type PresenceStore = Pick<WebhookStore, "setPresence" | "touchNode" | "dropNodes" | "onlineUsers">;

const DEFAULT_TTL_MS = 30_000;

export class Presence {
  private readonly ttlMs: number;
  /** Open streams per user ("appId\0userId"). */
  private readonly streams = new Map<string, number>();
  /** The tail of each user's chain of store writes, so writes land in the order they were decided. */
  private readonly writes = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A renewal failed: the node may have expired and lost its rows, so the next renewal rewrites them. */
  private renewalFailed = false;
  /** When the node's validity was last renewed (ms). */
  private touchedAt = 0;

  constructor(
    private readonly store: PresenceStore,
    private readonly opts: PresenceOptions,
  ) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
  }

  async start(): Promise<void> {
    const now = this.opts.now();
    await this.store.dropNodes(undefined, now);
    await this.store.touchNode(this.opts.nodeId, now + this.ttlMs);
    this.touchedAt = now;
    this.timer = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** A stream of the user became open (its `ready`); the first one marks the user online. */
  async opened(appId: string, userId: string): Promise<void> {
    const key = keyOf(appId, userId);
    const count = (this.streams.get(key) ?? 0) + 1;
    this.streams.set(key, count);
    if (count === 1) {
      // A node without streams stops renewing (below); its first stream renews it first, so
      // the row written next counts at once.
      if (this.opts.now() - this.touchedAt > this.ttlMs / 3) await this.renew(true);
      await this.write(appId, userId);
    }
  }

  /** A stream of the user ended; the last one marks the user offline, in the background. */
  closed(appId: string, userId: string): void {
    const key = keyOf(appId, userId);
    const count = (this.streams.get(key) ?? 0) - 1;
    if (count > 0) {
      this.streams.set(key, count);
      return;
    }
    this.streams.delete(key);
    void this.write(appId, userId);
  }

  /** Which of these users have an open stream on any live node, this one included. */
  onlineUsers(appId: string, userIds: readonly string[]): Promise<Set<string>> {
    return this.store.onlineUsers(appId, userIds, this.opts.now());
  }

  /** Stops renewing and removes the node's rows: its users are offline unless open elsewhere. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all(this.writes.values());
    try {
      await this.store.dropNodes(this.opts.nodeId, this.opts.now());
    } catch (err) {
      // The rows stop counting anyway once the node's validity ends.
      this.opts.log.warn({ err }, "removing this node's presence failed");
    }
  }

  /**
   * Queues a write of the user's state as it is when the write runs, behind the user's earlier
   * writes: after a quick close and reopen the last write says online, whatever the timing.
   * Failures are logged, never thrown: a wrong presence row costs a push, not a stream.
   */
  private write(appId: string, userId: string): Promise<void> {
    const key = keyOf(appId, userId);
    const previous = this.writes.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.stopped) return;
      try {
        await this.store.setPresence(this.opts.nodeId, appId, userId, this.streams.has(key));
      } catch (err) {
        this.opts.log.warn({ err, appId, userId }, "writing presence failed");
      }
    });
    this.writes.set(key, next);
    void next.then(() => {
      if (this.writes.get(key) === next) this.writes.delete(key);
    });
    return next;
  }

  /**
   * Keeps the node's rows valid. A node with no stream has no row to keep, and skips it: an idle
   * node then costs the database nothing (and a request's round trips stay its own).
   */
  private async renew(force = false): Promise<void> {
    if (this.stopped || (!force && this.streams.size === 0 && !this.renewalFailed)) return;
    try {
      const now = this.opts.now();
      await this.store.touchNode(this.opts.nodeId, now + this.ttlMs);
      this.touchedAt = now;
    } catch (err) {
      this.renewalFailed = true;
      this.opts.log.warn({ err }, "renewing presence failed");
      return;
    }
    if (!this.renewalFailed) return;
    this.renewalFailed = false;
    for (const key of this.streams.keys()) {
      const [appId, userId] = key.split("\0") as [string, string];
      void this.write(appId, userId);
    }
  }
}

function keyOf(appId: string, userId: string): string {
  return `${appId}\0${userId}`;
}
