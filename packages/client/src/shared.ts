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
export type { ClientOptions, SendMessageOptions, HistoryPage, NarrowcastClient, NarrowcastServices } from "./client.js";
export type { AdminClientOptions, AdminSendOptions, NarrowcastAdminClient } from "./admin.js";
export type { SendOptions, PriorityInit } from "./send-request.js";
export { toSendMessageRequest } from "./send-request.js";
export { checkSendMessageRequest, MAX_RECEIVERS, MAX_MENTIONS, MAX_MESSAGE_BYTES } from "./validate.js";
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
  ConversationChangedEvent,
  MemberJoinedEvent,
  MemberLeftEvent,
  GroupDismissedEvent,
  ReadyEvent,
  ReconnectingEvent,
  ErrorEvent,
} from "./events.js";
export { parseGroupType, parseEdition } from "./names.js";
export type { GroupTypeInit, EditionInit } from "./names.js";
// The protocol's enums and the status codes, so that callers need no second import.
export { Code } from "@connectrpc/connect";
export { ErrorReason, GroupType, Edition, MemberRole, MessagePriority } from "@narrowcast/gen";
export type { Message, MessageElement, Conversation, Group, GroupMember, App } from "@narrowcast/gen";
