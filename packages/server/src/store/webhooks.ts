// What the stores keep for app backends (spec section 16): each app's webhook configuration, the
// durable outbox of deliveries (rules HOOK-6 to HOOK-9, HOOK-13) and which users have an open
// stream on which node (presence, for push requests). Both stores implement `WebhookStore`
// (part of `Store`), and the store contract suite checks them alike.
import type { Webhook } from "@narrowcast/gen/admin";
import type { PageQuery } from "./types.js";

/** An app's webhook configuration as stored (rule HOOK-1). */
export interface WebhookRecord {
  appId: string;
  /** The configuration with its defaults applied; `secret` and `previousSecretExpireTime` unset. */
  config: Webhook;
  /** The signing secret, `whsec_` + base64 of 32 bytes (rule HOOK-4). */
  secret: string;
  /** The secret before the last rotation, still signing until `previousSecretExpiresAt` (HOOK-3). */
  previousSecret?: string;
  /** ms; absent when no previous secret signs. */
  previousSecretExpiresAt?: number;
}

/**
 * What a delivery is:
 * - "event": one WebhookEvent for a logged event (HOOK-6), to `url`; its body is built from the
 *   event at the first attempt;
 * - "fanout": a stored message whose push requests are still to be worked out (HOOK-13): the
 *   dispatcher replaces it with one "push" delivery per offline audience member (expandPush);
 * - "push": one push request, to `push_url` or `url`; its body is set when it is created.
 */
export type DeliveryKind = "event" | "fanout" | "push";

/** A delivery claimed for one attempt (claimDeliveries). */
export interface ClaimedDelivery {
  appId: string;
  /** The `webhook-id` of every attempt (HOOK-4, HOOK-7). */
  deliveryId: string;
  kind: DeliveryKind;
  /** The WebhookEvent type: "message.sent", …, "push.requested"; for "fanout", "message.sent". */
  type: string;
  /** Attempts made before this one. */
  attempts: number;
  createdAt: number;
  /** The JSON body, once known: always for "push"; for "event" after its first attempt. */
  body?: string;
  /**
   * For "event" and "fanout": the logged event (its stored Event encoding, cursor empty), or
   * undefined when it was pruned meanwhile.
   */
  event?: { partition: number; position: number; groupId: string; payload: Uint8Array };
  /** The app's configuration now (a claim of an app without one is not returned). */
  webhook: WebhookRecord;
}

/** One push request to record (expandPush). */
export interface NewPushDelivery {
  deliveryId: string;
  userId: string;
  body: string;
}

/** A delivery that failed every attempt (HOOK-9). */
export interface DeadLetterRecord {
  deliveryId: string;
  type: string;
  url: string;
  attempts: number;
  lastError: string;
  createdAt: number;
  lastAttemptAt: number;
  body: string;
}

/** ListDeadLetters' order: newest first (createdAt descending, then deliveryId ascending). */
export interface DeadLetterKey {
  createdAt: number;
  deliveryId: string;
}

export interface WebhookStore {
  /** The app's configuration, if it has one. */
  getWebhook(appId: string): Promise<WebhookRecord | undefined>;
  /**
   * Creates or replaces the app's configuration (HOOK-1, HOOK-3). Events committed after this
   * returns are recorded as deliveries if `record.config.eventTypes` lists their type.
   */
  putWebhook(record: WebhookRecord): Promise<void>;
  /** Removes the configuration, every pending delivery and every dead letter (HOOK-2); false if there was none. */
  deleteWebhook(appId: string): Promise<boolean>;
  /**
   * Claims up to `limit` pending deliveries due at `now` (of every app), oldest due first, for
   * `leaseMs`: no other claim returns them until the lease ends or they are settled. A claim
   * made on one node is never returned to another while leased (multi-node).
   */
  claimDeliveries(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /** The attempt succeeded: the delivery is gone (a fanout too, once expanded). */
  completeDelivery(appId: string, deliveryId: string): Promise<void>;
  /** The attempt failed: attempts + 1, due again at `nextAttemptAt`, the lease released. */
  retryDelivery(appId: string, deliveryId: string, failure: { body?: string; lastError: string; now: number; nextAttemptAt: number }): Promise<void>;
  /** The last attempt failed: attempts + 1, and the delivery becomes a dead letter (HOOK-8, HOOK-9). */
  killDelivery(appId: string, deliveryId: string, failure: { body?: string; lastError: string; now: number; url: string }): Promise<void>;
  /** Replaces a "fanout" delivery with these push deliveries (due now), in one transaction. */
  expandPush(appId: string, fanoutId: string, pushes: readonly NewPushDelivery[], now: number): Promise<void>;
  /** One page of the app's dead letters, newest first (HOOK-9). */
  listDeadLetters(appId: string, page: PageQuery<DeadLetterKey>): Promise<DeadLetterRecord[]>;
  /**
   * Makes these dead letters (all of the app's when `deliveryIds` is undefined) pending again
   * with zero attempts, due now; when any ID is not a dead letter of the app, replays none and
   * returns those IDs as `missing`.
   */
  replayDeadLetters(appId: string, deliveryIds: readonly string[] | undefined, now: number): Promise<{ replayed: number; missing: string[] }>;
  /** Deletes the dead letters (of every app) whose last attempt was before `before` (ms); returns how many (HOOK-9). */
  pruneDeadLetters(before: number): Promise<number>;
  /**
   * The users who may see a stored event (VIS-1), from its audience and the members' spans at
   * the event: a "group" event's members then, a "users" event's users who may see it. Sorted.
   */
  eventViewers(appId: string, partition: number, position: number): Promise<string[]>;

  /** Records that `nodeId` has an open stream of the user (true) or no longer has one (false). */
  setPresence(nodeId: string, appId: string, userId: string, online: boolean): Promise<void>;
  /** Keeps the node's presence rows valid until `expiresAt` (ms); a node that stops renewing is offline everywhere. */
  touchNode(nodeId: string, expiresAt: number): Promise<void>;
  /** Removes the node and its presence rows (shutdown), and every node expired before `now`. */
  dropNodes(nodeId: string | undefined, now: number): Promise<void>;
  /** Which of these users have an open stream on a node whose validity has not ended at `now`. */
  onlineUsers(appId: string, userIds: readonly string[], now: number): Promise<Set<string>>;
}
