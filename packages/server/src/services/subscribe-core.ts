// The one core of EventService.Subscribe (rules EVT-1 to EVT-10), used by both ways of serving
// it — the connect-es handler (services/event-service.ts) and the HTTP fast path
// (http/subscribe-fast-path.ts) — so they accept, reject, replay, send `ready`, heartbeat, cut
// slow consumers and shut down identically. A path only frames and writes what this yields.
import { create } from "@bufbuild/protobuf";
import { ErrorReason, SubscribeResponseSchema, type SubscribeRequest, type SubscribeResponse } from "@narrowcast/gen";
import { cursorOf, parseCursor } from "../cursor.js";
import { PARTITIONS, later } from "../positions.js";
import { durationMsOf } from "../durations.js";
import { narrowcastError } from "../errors.js";
import type { Caller, Deps } from "../context.js";
import { storedEventResponse, type Outgoing } from "../frames.js";
import type { Subscription } from "../subscription.js";

const MAX_HEARTBEAT_MS = 300_000;
/** Stored events read by a replay's first query; each next query reads twice as many, up to MAX_REPLAY_PAGE. */
export const REPLAY_PAGE = 256;
/**
 * Largest replay query. A page query scans every event of the reader's spans after the cursor
 * before it keeps the first `limit` (the SQLite store cannot limit per span), so a long replay
 * in small pages costs quadratically; growing pages keep a short resume cheap and bound a long
 * one's memory (a page is written before the next is read).
 */
export const MAX_REPLAY_PAGE = 2048;

function expired(): Error {
  return narrowcastError(
    ErrorReason.CURSOR_EXPIRED,
    "events after this cursor were pruned (event retention); subscribe without a cursor and reload",
    { field: "cursor" },
  );
}

/**
 * CURSOR_EXPIRED (rule EVT-10) when events after `after` were pruned in some partition. Checked
 * before the replay and again after its first page: a prune that ran meanwhile would otherwise
 * leave a silent gap.
 */
async function requireNotExpired(deps: Deps, appId: string, after: readonly number[]): Promise<void> {
  const floors = await deps.store.eventFloors(appId);
  for (let p = 0; p < PARTITIONS; p++) if (after[p] < floors[p]) throw expired();
}

/** An accepted Subscribe: registered with the hub, its replay not yet sent. */
export class SubscribeSession {
  private constructor(
    private readonly deps: Deps,
    private readonly caller: Caller,
    private readonly hasCursor: boolean,
    /** The replay starts after these positions. */
    private readonly after: readonly number[],
    /** The log's heads when the stream opened: live delivery covers everything after them. */
    private readonly heads: readonly number[],
    /** Heartbeat interval of the stream in ms (rule EVT-5). */
    readonly heartbeatMs: number,
    readonly subscription: Subscription,
  ) {}

  /** Validates the request (EVT-4, EVT-5, EVT-10) and registers the stream for live events. */
  static async open(deps: Deps, caller: Caller, req: SubscribeRequest): Promise<SubscribeSession> {
    const heartbeatMs =
      durationMsOf(req.heartbeatInterval, "heartbeat_interval", { minMs: 1000, maxMs: MAX_HEARTBEAT_MS, wholeSeconds: true }) ??
      deps.limits.heartbeatSeconds * 1000;
    const latest = await deps.store.latestPositions(caller.appId);
    // Without a cursor, start at the log's head: the replay then covers anything committed while
    // the subscription registers, so nothing falls between replay and live (EVT-3).
    let after = latest;
    if (req.cursor) {
      after = parseCursor(caller.appId, req.cursor, latest);
      await requireNotExpired(deps, caller.appId, after);
    }
    const subscription = await deps.hub.open(caller.appId, caller.userId, latest);
    // Presence (HOOK-13): recorded before `ready`, so no push request goes out for a message
    // stored after the stream is live.
    await deps.backends.streamOpened(caller.appId, caller.userId);
    return new SubscribeSession(deps, caller, !!req.cursor, after, latest, heartbeatMs, subscription);
  }

  /**
   * The replay (EVT-3): the caller's stored events after the cursor, one page per batch, then the
   * `ready` batch. Live events held back meanwhile follow without gap or repeat. Without a cursor,
   * `ready` comes first (at the log's head when the stream opened) and the events committed while
   * it registered follow it as live ones.
   */
  async *replay(): AsyncGenerator<Outgoing[]> {
    const { appId, userId } = this.caller;
    const ready = (at: readonly number[]) => [create(SubscribeResponseSchema, { item: { case: "ready", value: { cursor: cursorOf(appId, at) } } })];
    if (!this.hasCursor) yield ready(this.after);
    // Where the replay stands. It goes partition by partition (readEvents' order): a partition
    // behind the current one is done up to the heads at open, so its position moves there and
    // the cursors carry no position older than needed (EVT-10 judges a cursor by its oldest).
    const at = this.after.slice();
    for (let first = true, size = REPLAY_PAGE; ; first = false, size = Math.min(2 * size, MAX_REPLAY_PAGE)) {
      const page = await this.deps.store.readEvents(appId, userId, at, size);
      if (first && this.hasCursor) await requireNotExpired(this.deps, appId, this.after);
      if (page.length) {
        yield page.map((e) => {
          for (let p = 0; p < e.partition; p++) at[p] = Math.max(at[p], this.heads[p]);
          at[e.partition] = e.position;
          // Sent as stored, with the reader's cursor spliced in: no decode, no re-encode.
          return storedEventResponse(e.payload, cursorOf(appId, at));
        });
      }
      if (page.length < size) break;
    }
    // Everything up to the heads at open is replayed: live delivery goes on from there (or from
    // the replay's end, where it read further).
    const end = later(at, this.heads);
    this.subscription.finishReplay(end, this.heartbeatMs);
    if (this.hasCursor) yield ready(end);
  }

  private closed = false;

  /** Unregisters the stream (once, however often it is called). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.hub.close(this.subscription);
    this.deps.backends.streamClosed(this.caller.appId, this.caller.userId);
  }
}
