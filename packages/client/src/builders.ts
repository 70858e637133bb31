import { create } from "@bufbuild/protobuf";
import { MessageElementSchema, MessagePriority } from "@narrowcast/gen";
// Drafts hold wire elements: they are sent as they are, never read back as SDK data.
import type { MessageElement } from "@narrowcast/gen";
import { localError } from "./errors.js";
import { Reason } from "./reasons.js";

/**
 * Put AT_ALL in an `atUserList` (or the `mentions` send option) to @-mention everyone
 * (the request's `mention_all`, rule MSG-6). The ID "__all__" is reserved for it.
 */
export const AT_ALL = "__all__";

/** Conversation types of the web-style builders. Narrowcast has group conversations only. */
export const ConversationType = { GROUP: "GROUP" } as const;
export type ConversationType = (typeof ConversationType)[keyof typeof ConversationType];

/** Constants named like the vendor web SDK's `TIM.TYPES`, so its call sites read the same. */
export const TYPES = {
  CONV_GROUP: ConversationType.GROUP,
  MSG_AT_ALL: AT_ALL,
  MSG_PRIORITY_DEFAULT: MessagePriority.UNSPECIFIED,
  MSG_PRIORITY_HIGH: MessagePriority.HIGH,
  MSG_PRIORITY_NORMAL: MessagePriority.NORMAL,
  MSG_PRIORITY_LOW: MessagePriority.LOW,
} as const;

/**
 * A message built but not sent yet. Builders return a new draft and never change the one
 * they are given; `sendMessage` turns a draft into a SendMessageRequest.
 */
export interface MessageDraft {
  /** The group ID given as `to` in the web form; `sendMessage`'s `groupId` option wins over it. */
  readonly to?: string;
  /** The body, one element or more (rule MSG-3). */
  readonly elements: readonly MessageElement[];
  /** Opaque application data sent as the message's `custom_data`. */
  readonly customData?: Uint8Array;
  /** Receivers of a targeted message (rule TGT-1); empty for an ordinary message. */
  readonly receiverList: readonly string[];
  /** Users to @-mention; AT_ALL mentions everyone (rule MSG-6). */
  readonly atUserList: readonly string[];
  /**
   * The ID of the message of the same group this one replies to, quoting it (rule RPL-1);
   * `sendMessage`'s `replyTo` option wins over it.
   */
  readonly replyTo?: string;
  /** Asks for read receipts (rule RCP-1); `sendMessage`'s `requestReadReceipts` option wins over it. */
  readonly requestReadReceipts?: boolean;
}

export interface TextPayload {
  text: string;
}
export interface TextAtPayload {
  text: string;
  /** User IDs to @-mention, AT_ALL for everyone. */
  atUserList: readonly string[];
}
export interface CustomPayload {
  /** The payload; a string is sent UTF-8 encoded. */
  data?: Uint8Array | string;
  description?: string;
  extension?: string;
}
export interface ImagePayload {
  url: string;
  width?: number;
  height?: number;
  sizeBytes?: number | bigint;
  thumbnailUrl?: string;
}
export interface FilePayload {
  url: string;
  fileName?: string;
  sizeBytes?: number | bigint;
}
export interface LocationPayload {
  description?: string;
  latitude: number;
  longitude: number;
}
export interface FacePayload {
  index: number;
  /** App-defined data, e.g. the sticker set's name; a string is sent UTF-8 encoded. */
  data?: Uint8Array | string;
}

/** One element of `createMessage`: exactly one kind. */
export type ElementInit =
  | { text: string }
  | { custom: CustomPayload }
  | { image: ImagePayload }
  | { file: FilePayload }
  | { location: LocationPayload }
  | { face: FacePayload };

/**
 * The web SDK's object form: `createTextMessage({ to, conversationType, payload, receiverList })`.
 */
export interface WebMessageInit<P> {
  /** The group ID. */
  to: string;
  /** Must be GROUP when given: Narrowcast has group conversations only. */
  conversationType?: ConversationType | string;
  payload: P;
  /** Receivers of a targeted message, 1 to 50 members (rule TGT-1). */
  receiverList?: readonly string[];
  /** Opaque application data (the message's `custom_data`). */
  customData?: Uint8Array;
  /** Makes it a quote reply to this message of the group (rule RPL-1). */
  replyTo?: string;
  /** Asks for read receipts (rule RCP-1). */
  requestReadReceipts?: boolean;
}

/** Options of the multi-element `createMessage`. */
export interface CreateMessageOptions {
  to?: string;
  receiverList?: readonly string[];
  atUserList?: readonly string[];
  customData?: Uint8Array;
  /** Makes it a quote reply to this message of the group (rule RPL-1). */
  replyTo?: string;
  /** Asks for read receipts (rule RCP-1). */
  requestReadReceipts?: boolean;
}

const utf8 = new TextEncoder();

function bytes(data: Uint8Array | string | undefined): Uint8Array {
  if (data === undefined) {
    return new Uint8Array(0);
  }
  return typeof data === "string" ? utf8.encode(data) : data;
}

/** Builds one protobuf MessageElement from its friendly form. */
export function createElement(init: ElementInit): MessageElement {
  if ("text" in init) {
    return create(MessageElementSchema, { element: { case: "text", value: { text: init.text } } });
  }
  if ("custom" in init) {
    const { data, description = "", extension = "" } = init.custom;
    return create(MessageElementSchema, {
      element: { case: "custom", value: { data: bytes(data), description, extension } },
    });
  }
  if ("image" in init) {
    const { url, width = 0, height = 0, sizeBytes = 0, thumbnailUrl = "" } = init.image;
    return create(MessageElementSchema, {
      element: { case: "image", value: { url, width, height, sizeBytes: BigInt(sizeBytes), thumbnailUrl } },
    });
  }
  if ("file" in init) {
    const { url, fileName = "", sizeBytes = 0 } = init.file;
    return create(MessageElementSchema, {
      element: { case: "file", value: { url, fileName, sizeBytes: BigInt(sizeBytes) } },
    });
  }
  if ("location" in init) {
    const { description = "", latitude, longitude } = init.location;
    return create(MessageElementSchema, { element: { case: "location", value: { description, latitude, longitude } } });
  }
  if ("face" in init) {
    return create(MessageElementSchema, {
      element: { case: "face", value: { index: init.face.index, data: bytes(init.face.data) } },
    });
  }
  throw new TypeError("createElement: unknown element kind");
}

/** A message of several elements, e.g. `createMessage([{ text: "look" }, { image: { url } }])`. */
export function createMessage(elements: readonly ElementInit[], options: CreateMessageOptions = {}): MessageDraft {
  return {
    to: options.to,
    elements: elements.map(createElement),
    customData: options.customData,
    receiverList: [...(options.receiverList ?? [])],
    atUserList: [...(options.atUserList ?? [])],
    replyTo: options.replyTo,
    requestReadReceipts: options.requestReadReceipts,
  };
}

function isWebForm<P>(input: unknown): input is WebMessageInit<P> {
  return typeof input === "object" && input !== null && "payload" in input;
}

function fromWebForm<P>(init: WebMessageInit<P>, element: ElementInit, atUserList: readonly string[] = []): MessageDraft {
  if (init.conversationType !== undefined && init.conversationType !== ConversationType.GROUP) {
    throw localError(
      Reason.FIELD_INVALID,
      "conversationType",
      `conversation type ${String(init.conversationType)} is not supported: Narrowcast has group conversations only`,
    );
  }
  return createMessage([element], {
    to: init.to,
    receiverList: init.receiverList,
    atUserList,
    customData: init.customData,
    replyTo: init.replyTo,
    requestReadReceipts: init.requestReadReceipts,
  });
}

/** A text message: `createTextMessage("hi")` or the web form with `payload: { text }`. */
export function createTextMessage(input: string | WebMessageInit<TextPayload>): MessageDraft {
  if (isWebForm<TextPayload>(input)) {
    return fromWebForm(input, { text: input.payload.text });
  }
  return createMessage([{ text: input }]);
}

/**
 * A text message that @-mentions users (rule MSG-6): `createTextAtMessage("hi", ["bob", AT_ALL])`
 * or the web form with `payload: { text, atUserList }`. Cannot be targeted (rule TGT-11).
 */
export function createTextAtMessage(
  input: string | WebMessageInit<TextAtPayload>,
  atUserList: readonly string[] = [],
): MessageDraft {
  if (isWebForm<TextAtPayload>(input)) {
    return fromWebForm(input, { text: input.payload.text }, input.payload.atUserList);
  }
  return createMessage([{ text: input }], { atUserList });
}

/**
 * Application-defined data: `createCustomMessage(data, description?, extension?)` or the web
 * form with `payload: { data, description, extension }`.
 */
export function createCustomMessage(
  input: Uint8Array | string | WebMessageInit<CustomPayload>,
  description?: string,
  extension?: string,
): MessageDraft {
  if (isWebForm<CustomPayload>(input)) {
    return fromWebForm(input, { custom: input.payload });
  }
  return createMessage([{ custom: { data: input, description, extension } }]);
}

/** An image by reference: `createImageMessage({ url, width, height })` or the web form. */
export function createImageMessage(input: ImagePayload | WebMessageInit<ImagePayload>): MessageDraft {
  if (isWebForm<ImagePayload>(input)) {
    return fromWebForm(input, { image: input.payload });
  }
  return createMessage([{ image: input }]);
}

/** A file by reference: `createFileMessage({ url, fileName, sizeBytes })` or the web form. */
export function createFileMessage(input: FilePayload | WebMessageInit<FilePayload>): MessageDraft {
  if (isWebForm<FilePayload>(input)) {
    return fromWebForm(input, { file: input.payload });
  }
  return createMessage([{ file: input }]);
}

/** A location: `createLocationMessage({ description, latitude, longitude })` or the web form. */
export function createLocationMessage(input: LocationPayload | WebMessageInit<LocationPayload>): MessageDraft {
  if (isWebForm<LocationPayload>(input)) {
    return fromWebForm(input, { location: input.payload });
  }
  return createMessage([{ location: input }]);
}

/** A sticker or emoji: `createFaceMessage(index, data?)`, `createFaceMessage({ index, data })` or the web form. */
export function createFaceMessage(
  input: number | FacePayload | WebMessageInit<FacePayload>,
  data?: Uint8Array | string,
): MessageDraft {
  if (typeof input === "number") {
    return createMessage([{ face: { index: input, data } }]);
  }
  if (isWebForm<FacePayload>(input)) {
    return fromWebForm(input, { face: input.payload });
  }
  return createMessage([{ face: input }]);
}

/**
 * Makes a targeted group message from an ordinary one, as the native SDKs do: only the
 * listed members (and the sender) will ever see it (rules TGT-1, TGT-4). Returns a new draft.
 */
export function createTargetedGroupMessage(message: MessageDraft, receiverList: readonly string[]): MessageDraft {
  return { ...message, receiverList: [...receiverList] };
}
