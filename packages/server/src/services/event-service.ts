// EventService.Subscribe served by connect-es: every stream the fast path leaves (compression,
// timeouts, gRPC-Web text, GET), and every stream when user interceptors are configured. The
// session core (subscribe-core.ts) does the work; this pulls its items one at a time.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { EventService, type SubscribeRequest, type SubscribeResponse } from "@narrowcast/gen";
import { callerOf, type Deps } from "../context.js";
import { messageOf } from "../frames.js";
import { SubscribeSession } from "./subscribe-core.js";

export function eventService(deps: Deps): ServiceImpl<typeof EventService> {
  return {
    subscribe(req, ctx) {
      return subscribe(deps, req, ctx);
    },
  };
}

async function* subscribe(deps: Deps, req: SubscribeRequest, ctx: HandlerContext): AsyncGenerator<SubscribeResponse> {
  const session = await SubscribeSession.open(deps, callerOf(ctx), req);
  try {
    for await (const batch of session.replay()) yield* batch.map(messageOf);
    for (;;) {
      const item = await session.subscription.next(ctx.signal);
      if (!item) return;
      yield item;
    }
  } finally {
    session.close();
  }
}
