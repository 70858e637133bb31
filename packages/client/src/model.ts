// The SDK's data types: the generated messages in their SDK form (see convert.ts), so that
// `message.seq` is a number and `message.serverTime` a Date everywhere the SDK hands data out.
import {
  ConversationSchema,
  GroupMemberSchema,
  GroupSchema,
  JoinRequestSchema,
  MessageSchema,
  ReactionSchema,
  ReadReceiptCountsSchema,
  ReadReceiptSchema,
  ServerInfoSchema,
} from "@narrowcast/gen";
import type * as pb from "@narrowcast/gen";
import { AppSchema, DeadLetterSchema, UserSchema, WebhookSchema } from "@narrowcast/gen/admin";
import type * as admin from "@narrowcast/gen/admin";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { fromProto } from "./convert.js";
import type { Plain } from "./convert.js";
import { beforeSendFailureActionName, parseBeforeSendFailureAction, parseWebhookEventType, webhookEventTypeName } from "./names.js";
import type { BeforeSendFailureActionName, WebhookEventTypeName } from "./names.js";

/**
 * A message as history, GetMessage, SendMessage and events return it. `reactions` is filled only
 * where the server counts them — getMessage, listMessages, addReaction, removeReaction — and is
 * empty everywhere else (events, last messages, send, edit, recall): follow "reactionChanged"
 * events there (rule RCT-5). `replyTo` is set on a quote reply (see ReplyTo), resolved on the
 * same paths as `reactions`. `readReceiptsRequested` is true when the sender asked for read
 * receipts (rule RCP-1), for every viewer; `readReceipts` (see ReadReceiptCounts) is set only for
 * the sender, on the same paths as `reactions` (rule RCP-4) — follow "messageRead" events elsewhere.
 */
export type Message = Plain<pb.Message>;
/**
 * What a quote reply quotes (rules RPL-1, RPL-3): `messageId`, and, where the server shows this
 * user the quote (getMessage, listMessages, addReaction, removeReaction), `status`:
 * - `QuoteStatus.AVAILABLE`: `quoted` is the quoted message as this user may see it now (edited,
 *   or recalled: no content and `recall` set), without its own quote (`quoted.replyTo` holds the
 *   ID alone) and without reactions or read receipts;
 * - `QuoteStatus.UNAVAILABLE`: this user may not see it (a targeted message for others, or from
 *   before they joined), or it is gone; nothing tells these apart, and `quoted` is unset;
 * - `QuoteStatus.UNSPECIFIED`: unresolved — only the ID is known. Events, last messages and the
 *   response of a send carry this, since one event goes to many viewers; `resolveQuote` fills it.
 */
export type ReplyTo = Plain<pb.ReplyTo>;
/**
 * One distinct reaction on a message (rule RCT-5): `reaction`, how many users have it (`count`,
 * the same for every viewer) and whether this user is one of them (`callerReacted`).
 */
export type ReactionCount = Plain<pb.ReactionCount>;
/** One user's reaction on a message, as listReactions returns it (rule RCT-6): `reaction`, `userId`, `createTime`. */
export type Reaction = Plain<pb.Reaction>;
/**
 * A message's read receipts as its sender sees them (rule RCP-4): `readCount` readers have
 * acknowledged it, `unreadCount` have not. Its readers are fixed at send time (rule RCP-2): a
 * targeted message's receivers, or the group's members then; the sender is never one.
 */
export type ReadReceiptCounts = Plain<pb.ReadReceiptCounts>;
/** One reader of a message, as listReadReceipts returns it: `userId`, and `readTime` once they acknowledged it. */
export type ReadReceipt = Plain<pb.ReadReceipt>;
/** One element of a message body: `{ case: "text", value: { text } }`, … */
export type MessageElement = Plain<pb.MessageElement>;
export type RecallInfo = Plain<pb.RecallInfo>;
/** Set on a message once its sender edited it (rule EDT-3): `editCount` (1 after the first edit) and `editTime`. */
export type EditInfo = Plain<pb.EditInfo>;
/** One viewer's view of a group conversation (unread count, last message, read position). */
export type Conversation = Plain<pb.Conversation>;
export type Group = Plain<pb.Group>;
export type GroupMember = Plain<pb.GroupMember>;
/** A pending application to join a PUBLIC group (rule GRP-3). */
export type JoinRequest = Plain<pb.JoinRequest>;
/**
 * What the server declares about itself (rule SRV-1); durations as `{ seconds, nanos }`, e.g.
 * `recallWindow`, `editWindow`.
 */
export type ServerInfo = Plain<pb.ServerInfo>;
/** An app (tenant); `secret` is set only by createApp and rotateAppSecret. */
export type App = Plain<admin.App>;
export type User = Plain<admin.User>;

/**
 * An app's webhook configuration as `setWebhook` takes it (rule HOOK-1). Absent fields take the
 * server's defaults: no push URL (push requests go to `url`), no before-send call, a 2 s
 * before-send timeout, "allow" on a before-send failure, 4 concurrent deliveries per endpoint.
 */
export interface WebhookConfig {
  /** Where event deliveries go: an absolute http(s) URL. */
  url: string;
  /** The deliveries to make; "push.requested" turns on push requests for offline members. */
  eventTypes: readonly WebhookEventTypeName[];
  /** Where push requests go instead of `url`. */
  pushUrl?: string;
  /** Push requests for messages sent with `excludeFromUnread` too. */
  pushExcludedFromUnread?: boolean;
  /** The before-send callback (rule HOOK-10); answer it with `beforeSendAnswer`. */
  beforeSendUrl?: string;
  /** How long a send waits for the before-send answer: 0 (2 s) to 10,000 ms. */
  beforeSendTimeoutMs?: number;
  /** What a before-send timeout, error or invalid answer means (rule HOOK-12). */
  beforeSendFailureAction?: BeforeSendFailureActionName;
  /** At most this many attempts in flight to one endpoint per server node: 0 (4) to 64. */
  maxConcurrentDeliveries?: number;
}

/** An app's webhook configuration as the server returns it, defaults applied. */
export interface Webhook extends Required<WebhookConfig> {
  eventTypes: WebhookEventTypeName[];
  /** The signing secret (`whsec_…`): set only by the first setWebhook and by rotateWebhookSecret. */
  secret: string;
  /** After a rotation with a grace period: when the previous secret stops signing requests (rule HOOK-3). */
  previousSecretExpireTime?: Date;
}

/**
 * A delivery that failed every attempt (rule HOOK-9): `deliveryId` (its `webhook-id`), `type`,
 * `url`, `attempts`, `lastError`, `createTime`, `lastAttemptTime` and `body` (the JSON sent).
 */
export type DeadLetter = Plain<admin.DeadLetter>;

export const toMessage = (m: pb.Message): Message => fromProto(MessageSchema, m);
export const toReaction = (r: pb.Reaction): Reaction => fromProto(ReactionSchema, r);
export const toReadReceipt = (r: pb.ReadReceipt): ReadReceipt => fromProto(ReadReceiptSchema, r);
export const toReadReceiptCounts = (c: pb.ReadReceiptCounts): ReadReceiptCounts => fromProto(ReadReceiptCountsSchema, c);
export const toConversation = (c: pb.Conversation): Conversation => fromProto(ConversationSchema, c);
export const toGroup = (g: pb.Group): Group => fromProto(GroupSchema, g);
export const toGroupMember = (m: pb.GroupMember): GroupMember => fromProto(GroupMemberSchema, m);
export const toJoinRequest = (r: pb.JoinRequest): JoinRequest => fromProto(JoinRequestSchema, r);
export const toServerInfo = (s: pb.ServerInfo): ServerInfo => fromProto(ServerInfoSchema, s);
export const toApp = (a: admin.App): App => fromProto(AppSchema, a);
export const toUser = (u: admin.User): User => fromProto(UserSchema, u);
export const toDeadLetter = (d: admin.DeadLetter): DeadLetter => fromProto(DeadLetterSchema, d);

export function toWebhook(w: admin.Webhook): Webhook {
  return {
    url: w.url,
    // A type this SDK does not know (a newer server's) is left out rather than misnamed.
    eventTypes: w.eventTypes.flatMap((t) => webhookEventTypeName(t) ?? []),
    pushUrl: w.pushUrl,
    pushExcludedFromUnread: w.pushExcludedFromUnread,
    beforeSendUrl: w.beforeSendUrl,
    beforeSendTimeoutMs: w.beforeSendTimeout ? durationMs(w.beforeSendTimeout) : 0,
    beforeSendFailureAction: beforeSendFailureActionName(w.beforeSendFailureAction),
    maxConcurrentDeliveries: w.maxConcurrentDeliveries,
    secret: w.secret,
    ...(w.previousSecretExpireTime ? { previousSecretExpireTime: timestampDate(w.previousSecretExpireTime) } : {}),
  };
}

/** The wire form of a configuration; unknown names throw TypeError before anything is sent. */
export function webhookInit(config: WebhookConfig) {
  const timeoutMs = config.beforeSendTimeoutMs ?? 0;
  return {
    url: config.url,
    eventTypes: config.eventTypes.map(parseWebhookEventType),
    pushUrl: config.pushUrl ?? "",
    pushExcludedFromUnread: config.pushExcludedFromUnread ?? false,
    beforeSendUrl: config.beforeSendUrl ?? "",
    // Zero means "the default" on the wire too; a negative value goes through so the server names the field.
    // Whole milliseconds: a fraction would make nanos a non-integer, which cannot be encoded.
    beforeSendTimeout: timeoutMs === 0 ? undefined : durationFromMs(Math.trunc(timeoutMs)),
    beforeSendFailureAction:
      config.beforeSendFailureAction === undefined ? undefined : parseBeforeSendFailureAction(config.beforeSendFailureAction),
    maxConcurrentDeliveries: config.maxConcurrentDeliveries ?? 0,
  };
}

/** A returned configuration back in its wire form (e.g. to print it as the protocol's JSON). */
export function toWebhookProto(webhook: Webhook): admin.Webhook {
  return create(WebhookSchema, {
    ...webhookInit(webhook),
    secret: webhook.secret,
    previousSecretExpireTime: webhook.previousSecretExpireTime ? timestampFromDate(webhook.previousSecretExpireTime) : undefined,
  });
}

/**
 * True for a targeted group message: one with a receiver list (rules TGT-1, TGT-7). Only its
 * receivers and its sender can ever see it. (The protocol has no separate flag since 0.2.)
 */
export function isTargeted(message: { receiverIds: readonly string[] }): boolean {
  return message.receiverIds.length > 0;
}
