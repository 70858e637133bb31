// The start of a Subscribe (rules EVT-3, EVT-4, EVT-5, EVT-10), shared by the connect-es handler
// and the HTTP fast path so both accept and reject exactly the same requests.
import { ErrorReason, type SubscribeRequest } from "@narrowcast/gen";
import { parseCursor } from "../cursor.js";
import { durationMsOf } from "../durations.js";
import { narrowcastError } from "../errors.js";
import type { Caller, Deps } from "../context.js";

const MAX_HEARTBEAT_MS = 300_000;

export interface SubscribeStart {
  /** Heartbeat interval of the stream in ms. */
  heartbeatMs: number;
  /** The replay starts after this event ID. */
  after: number;
}

function expired(): Error {
  return narrowcastError(
    ErrorReason.CURSOR_EXPIRED,
    "events after this cursor were pruned (event retention); subscribe without a cursor and reload",
    { field: "cursor" },
  );
}

/** Validates the request and finds where the replay starts. */
export async function subscribeStart(deps: Deps, caller: Caller, req: SubscribeRequest): Promise<SubscribeStart> {
  const heartbeatMs =
    durationMsOf(req.heartbeatInterval, "heartbeat_interval", { minMs: 1000, maxMs: MAX_HEARTBEAT_MS, wholeSeconds: true }) ??
    deps.limits.heartbeatSeconds * 1000;
  const latest = await deps.store.latestEventId(caller.appId);
  // Without a cursor, start at the log's head: the replay then covers anything committed while
  // the subscription registers.
  if (!req.cursor) return { heartbeatMs, after: latest };
  const after = parseCursor(caller.appId, req.cursor, latest);
  await requireNotExpired(deps, caller.appId, after);
  return { heartbeatMs, after };
}

/**
 * CURSOR_EXPIRED (rule EVT-10) when events after `after` were pruned. Called before the replay
 * and again after it: a prune that ran meanwhile would otherwise leave a silent gap.
 */
export async function requireNotExpired(deps: Deps, appId: string, after: number): Promise<void> {
  if (after < (await deps.store.eventFloor(appId))) throw expired();
}
