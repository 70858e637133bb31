// What the RPC handlers depend on, injected as plain interfaces (a Store, a Bus, a Hub).
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { GroupType } from "@narrowcast/gen";
import type { Logger } from "pino";
import type { Bus } from "./bus/types.js";
import type { Hub } from "./hub.js";
import type { GroupLimits, Store, StoredEvent } from "./store/types.js";
import type { RateLimiter } from "./rate-limit.js";

export interface Limits {
  recallWindowMs: number;
  /** How long after sending a sender may edit (rule EDT-2). */
  editWindowMs: number;
  heartbeatSeconds: number;
  maxMessageBytes: number;
  maxReceivers: number;
  maxMentions: number;
  idempotencyWindowMs: number;
  /** Sends per second per group on one node (rule MSG-5). */
  sendRatePerGroup: number;
  /** How many nodes may each accept `sendRatePerGroup` (ServerInfo.send_rate_per_group_bound). */
  rateLimitNodes: number;
  /** Stored events stay replayable at least this long (rule EVT-10). */
  eventRetentionSeconds: number;
  /** Per-type member limit and member-event threshold (rules GRP-13, GRP-14). */
  groupLimits: (type: GroupType) => GroupLimits;
}

export interface Deps {
  store: Store;
  bus: Bus;
  hub: Hub;
  rateLimiter: RateLimiter;
  limits: Limits;
  log: Logger;
  now: () => number;
  /** Publishes events after their transaction committed; undefined (nothing happened) is skipped. */
  publish: (events: StoredEvent | readonly StoredEvent[] | undefined) => void;
  /** The app backends' side of the server (spec section 16). */
  backends: AppBackends;
}

/** What the services tell the webhook machinery (spec section 16; webhooks/). */
export interface AppBackends {
  /** The app's webhook changed or its dead letters were replayed: the dispatcher looks at once. */
  nudge(appId: string): void;
  /** A stream of the user was accepted on this node: the user is online on every node once this resolves (HOOK-13). */
  streamOpened(appId: string, userId: string): Promise<void>;
  /** That stream ended. */
  streamClosed(appId: string, userId: string): void;
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
