// Everything both entry points (Node.js and browser) export; they add createClient and
// createAdminClient bound to their transport.
export {
  AT_ALL,
  ConversationType,
  TYPES,
  createElement,
  createMessage,
  createTextMessage,
  createTextAtMessage,
  createCustomMessage,
  createImageMessage,
  createFileMessage,
  createLocationMessage,
  createFaceMessage,
  createTargetedGroupMessage,
} from "./builders.js";
export type {
  MessageDraft,
  ElementInit,
  WebMessageInit,
  CreateMessageOptions,
  TextPayload,
  TextAtPayload,
  CustomPayload,
  ImagePayload,
  FilePayload,
  LocationPayload,
  FacePayload,
} from "./builders.js";
export { NarrowcastError } from "./errors.js";
export type { FieldViolation, NarrowcastErrorInit } from "./errors.js";
export { Reason, NARROWCAST_DOMAIN, isKnownReason } from "./reasons.js";
export type {
  ClientOptions,
  SendMessageOptions,
  ReplyOptions,
  ListMessagesOptions,
  ListReactionsOptions,
  ListReadReceiptsOptions,
  ReadReceiptPage,
  JoinResult,
  NarrowcastClient,
  NarrowcastServices,
} from "./client.js";
export type { Page, PageOptions } from "./paging.js";
export { isTargeted } from "./model.js";
export type {
  Message,
  MessageElement,
  RecallInfo,
  EditInfo,
  ReactionCount,
  Reaction,
  ReadReceipt,
  ReadReceiptCounts,
  ReplyTo,
  Conversation,
  Group,
  GroupMember,
  JoinRequest,
  ServerInfo,
  App,
  User,
} from "./model.js";
export { fromProto, toProto } from "./convert.js";
export type { Plain } from "./convert.js";
export type { AdminClientOptions, AdminSendOptions, NarrowcastAdminClient } from "./admin.js";
export type { SendOptions, PriorityInit } from "./send-request.js";
export { toSendMessageRequest } from "./send-request.js";
export type { EditContent } from "./edit-request.js";
export { toEditMessageRequest } from "./edit-request.js";
export {
  checkSendMessageRequest,
  checkEditMessageRequest,
  checkReactionRequest,
  checkListReactionsRequest,
  checkSendReadReceiptsRequest,
  checkListReadReceiptsRequest,
  MAX_RECEIVERS,
  MAX_MENTIONS,
  MAX_MESSAGE_BYTES,
  MAX_REACTION_CODE_POINTS,
  MAX_RECEIPT_MESSAGE_IDS,
} from "./validate.js";
export type { RetryOptions } from "./retry.js";
export type { BackoffOptions } from "./backoff.js";
export type { TokenSource } from "./auth.js";
export type { ConnectionOptions, Protocol } from "./transport.js";
export type {
  ClientEvent,
  ClientEventMap,
  ClientEventType,
  MessageReceivedEvent,
  MessageRecalledEvent,
  MessageEditedEvent,
  ReactionChangedEvent,
  MessageReadEvent,
  ConversationChangedEvent,
  MemberJoinedEvent,
  MemberLeftEvent,
  GroupDismissedEvent,
  ReadyEvent,
  ResyncEvent,
  ReconnectingEvent,
  ErrorEvent,
} from "./events.js";
export { parseGroupType, parsePlan, parseReadState, parseRole } from "./names.js";
export type { GroupTypeInit, PlanInit, ReadStateInit, RoleInit } from "./names.js";
// The protocol's enums and the status codes, so that callers need no second import. (Error
// reasons are strings: see `Reason`, not the proto's ErrorReason enum.)
export { Code } from "@connectrpc/connect";
export { GroupType, MemberRole, MessagePriority, QuoteStatus, ReadState } from "@narrowcast/gen";
export { Plan } from "@narrowcast/gen/admin";
