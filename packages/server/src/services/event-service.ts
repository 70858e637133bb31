// EventService.Subscribe: replay after a cursor, then `ready`, then live events, with
// heartbeats and a bounded per-subscription buffer (rules EVT-1 to EVT-10). Most streams are
// served by http/subscribe-fast-path.ts; this handler serves the rest (compression, timeouts,
// gRPC-Web text) with the same start (subscribe-start.ts).
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { EventService, SubscribeResponseSchema, type SubscribeRequest, type SubscribeResponse } from "@narrowcast/gen";
import { cursorOf } from "../cursor.js";
import { callerOf, type Deps } from "../context.js";
import { requireNotExpired, subscribeStart } from "./subscribe-start.js";

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
  const caller = callerOf(ctx);
  const { appId, userId } = caller;
  const start = await subscribeStart(deps, caller, req);
  let last = start.after;

  const sub = await deps.hub.open(appId, userId);
  try {
    for (let first = true; ; first = false) {
      const page = await deps.store.readEvents(appId, userId, last, REPLAY_PAGE);
      if (first && req.cursor) await requireNotExpired(deps, appId, start.after);
      for (const stored of page) {
        last = stored.eventId;
        yield create(SubscribeResponseSchema, { item: { case: "event", value: stored.event } });
      }
      if (page.length < REPLAY_PAGE) break;
    }
    sub.finishReplay(last);
    yield create(SubscribeResponseSchema, { item: { case: "ready", value: { cursor: cursorOf(appId, last) } } });
    for (;;) {
      const item = await sub.next(start.heartbeatMs, ctx.signal);
      if (ctx.signal.aborted) return;
      yield item ?? HEARTBEAT;
    }
  } finally {
    deps.hub.close(sub);
  }
}
