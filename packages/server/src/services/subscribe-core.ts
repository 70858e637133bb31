// The one core of EventService.Subscribe (rules EVT-1 to EVT-10), used by both ways of serving
// it — the connect-es handler (services/event-service.ts) and the HTTP fast path
// (http/subscribe-fast-path.ts) — so they accept, reject, replay, send `ready`, heartbeat, cut
// slow consumers and shut down identically. A path only frames and writes what this yields.
import { create } from "@bufbuild/protobuf";
import { ErrorReason, SubscribeResponseSchema, type SubscribeRequest, type SubscribeResponse } from "@narrowcast/gen";
import { cursorOf, parseCursor } from "../cursor.js";
import { durationMsOf } from "../durations.js";
import { narrowcastError } from "../errors.js";
import type { Caller, Deps } from "../context.js";
import type { Subscription } from "../subscription.js";

const MAX_HEARTBEAT_MS = 300_000;
/** Stored events read per replay query. */
export const REPLAY_PAGE = 256;

function expired(): Error {
  return narrowcastError(
    ErrorReason.CURSOR_EXPIRED,
    "events after this cursor were pruned (event retention); subscribe without a cursor and reload",
    { field: "cursor" },
  );
}

/**
 * CURSOR_EXPIRED (rule EVT-10) when events after `after` were pruned. Checked before the replay
 * and again after its first page: a prune that ran meanwhile would otherwise leave a silent gap.
 */
async function requireNotExpired(deps: Deps, appId: string, after: number): Promise<void> {
  if (after < (await deps.store.eventFloor(appId))) throw expired();
}

/** An accepted Subscribe: registered with the hub, its replay not yet sent. */
export class SubscribeSession {
  private constructor(
    private readonly deps: Deps,
    private readonly caller: Caller,
    private readonly hasCursor: boolean,
    /** The replay starts after this event ID. */
    private readonly after: number,
    /** Heartbeat interval of the stream in ms (rule EVT-5). */
    readonly heartbeatMs: number,
    readonly subscription: Subscription,
  ) {}

  /** Validates the request (EVT-4, EVT-5, EVT-10) and registers the stream for live events. */
  static async open(deps: Deps, caller: Caller, req: SubscribeRequest): Promise<SubscribeSession> {
    const heartbeatMs =
      durationMsOf(req.heartbeatInterval, "heartbeat_interval", { minMs: 1000, maxMs: MAX_HEARTBEAT_MS, wholeSeconds: true }) ??
      deps.limits.heartbeatSeconds * 1000;
    const latest = await deps.store.latestEventId(caller.appId);
    // Without a cursor, start at the log's head: the replay then covers anything committed while
    // the subscription registers, so nothing falls between replay and live (EVT-3).
    let after = latest;
    if (req.cursor) {
      after = parseCursor(caller.appId, req.cursor, latest);
      await requireNotExpired(deps, caller.appId, after);
    }
    const subscription = await deps.hub.open(caller.appId, caller.userId, latest);
    return new SubscribeSession(deps, caller, !!req.cursor, after, heartbeatMs, subscription);
  }

  /**
   * The replay (EVT-3): the caller's stored events after the cursor, one page per batch, then the
   * `ready` batch. Live events held back meanwhile follow without gap or repeat. Without a cursor,
   * `ready` comes first (at the log's head when the stream opened) and the events committed while
   * it registered follow it as live ones.
   */
  async *replay(): AsyncGenerator<SubscribeResponse[]> {
    const { appId, userId } = this.caller;
    const ready = (after: number) => [create(SubscribeResponseSchema, { item: { case: "ready", value: { cursor: cursorOf(appId, after) } } })];
    if (!this.hasCursor) yield ready(this.after);
    let last = this.after;
    for (let first = true; ; first = false) {
      const page = await this.deps.store.readEvents(appId, userId, last, REPLAY_PAGE);
      if (first && this.hasCursor) await requireNotExpired(this.deps, appId, this.after);
      if (page.length) {
        last = page[page.length - 1].eventId;
        yield page.map((e) => create(SubscribeResponseSchema, { item: { case: "event", value: e.event } }));
      }
      if (page.length < REPLAY_PAGE) break;
    }
    this.subscription.finishReplay(last, this.heartbeatMs);
    if (this.hasCursor) yield ready(last);
  }

  /** Unregisters the stream. */
  close(): void {
    this.deps.hub.close(this.subscription);
  }
}
