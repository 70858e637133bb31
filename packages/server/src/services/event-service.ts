// EventService.Subscribe: replay after a cursor, then `ready`, then live events, with
// heartbeats and a bounded per-subscription buffer (rules EVT-1 to EVT-9).
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { EventService, SubscribeResponseSchema, type SubscribeRequest, type SubscribeResponse } from "@narrowcast/gen";
import { fieldInvalid } from "../errors.js";
import { cursorOf, parseCursor } from "../cursor.js";
import { callerOf, type Deps } from "../context.js";

const REPLAY_PAGE = 256;
const HEARTBEAT = create(SubscribeResponseSchema, { item: { case: "heartbeat", value: {} } });

export function eventService(deps: Deps): ServiceImpl<typeof EventService> {
  return {
    subscribe(req, ctx) {
      return subscribe(deps, req, ctx);
    },
  };
}

async function* subscribe(deps: Deps, req: SubscribeRequest, ctx: HandlerContext): AsyncGenerator<SubscribeResponse> {
  const { appId, userId } = callerOf(ctx);
  const interval = req.heartbeatIntervalSeconds || deps.limits.heartbeatSeconds;
  if (interval < 1 || interval > 300) throw fieldInvalid("heartbeat_interval_seconds", "must be 1 to 300");
  const latest = await deps.store.latestEventId(appId);
  // Without a cursor, start at the log's head: the replay then covers anything committed
  // while the subscription registers.
  let last = req.cursor ? parseCursor(req.cursor, latest) : latest;

  const sub = await deps.hub.open(appId, userId);
  try {
    for (;;) {
      const page = await deps.store.readEvents(appId, userId, last, REPLAY_PAGE);
      for (const stored of page) {
        last = stored.eventId;
        yield create(SubscribeResponseSchema, { item: { case: "event", value: stored.event } });
      }
      if (page.length < REPLAY_PAGE) break;
    }
    sub.finishReplay(last);
    yield create(SubscribeResponseSchema, { item: { case: "ready", value: { cursor: cursorOf(last) } } });
    for (;;) {
      const item = await sub.next(interval * 1000, ctx.signal);
      if (ctx.signal.aborted) return;
      yield item ?? HEARTBEAT;
    }
  } finally {
    deps.hub.close(sub);
  }
}
