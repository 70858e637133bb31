// What the RPC handlers depend on, injected as plain interfaces (a Store, a Bus, a Hub).
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Bus } from "./bus/types.js";
import type { Hub } from "./hub.js";
import type { Store, StoredEvent } from "./store/types.js";
import type { RateLimiter } from "./rate-limit.js";

export interface Limits {
  recallWindowMs: number;
  heartbeatSeconds: number;
  maxMessageBytes: number;
  maxReceivers: number;
  maxMentions: number;
  idempotencyWindowMs: number;
}

export interface Deps {
  store: Store;
  bus: Bus;
  hub: Hub;
  rateLimiter: RateLimiter;
  limits: Limits;
  log: Logger;
  now: () => number;
  /** Publishes events after their transaction committed. */
  publish: (events: StoredEvent | readonly StoredEvent[]) => void;
}

/** The authenticated user of a user-API call, set by the auth interceptor. */
export interface Caller {
  appId: string;
  userId: string;
}

export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "narrowcast caller" });

export function callerOf(ctx: HandlerContext): Caller {
  const caller = ctx.values.get(callerKey);
  if (!caller) throw new Error("auth interceptor did not run");
  return caller;
}
