// The bytes a Subscribe stream sends, built once and shared. A live event goes to every stream of
// its audience, so its frame (enveloped SubscribeResponse) is encoded once per codec and the same
// bytes are written to all of them. A replayed event is sent as stored: its frame is spliced from
// the stored Event encoding and the reader's cursor, never decoded and re-encoded (the replay's
// cost per event was mostly protobuf work before; see docs/benchmarks.md).
import { fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { SubscribeResponseSchema, type SubscribeResponse } from "@narrowcast/gen";

const encoder = new TextEncoder();

/**
 * A SubscribeResponse already in its binary encoding: a replayed event. The message is decoded
 * only for a path that needs the object (JSON codec, the connect-es handler).
 */
export class EncodedResponse {
  private decoded: SubscribeResponse | undefined;

  /** `frame`: the enveloped binary SubscribeResponse (5-byte envelope header, then the message). */
  constructor(readonly frame: Uint8Array) {}

  get message(): SubscribeResponse {
    return (this.decoded ??= fromBinary(SubscribeResponseSchema, this.frame.subarray(5)));
  }
}

/** What a Subscribe stream sends: a message object, or one already encoded. */
export type Outgoing = SubscribeResponse | EncodedResponse;

export function messageOf(item: Outgoing): SubscribeResponse {
  return item instanceof EncodedResponse ? item.message : item;
}

/** Enveloped bytes of a response, per codec, computed once per response object. */
const frames = new WeakMap<SubscribeResponse, { binary?: Uint8Array; json?: Uint8Array }>();

/** The enveloped frame of `item` in the binary or JSON codec, encoded at most once per object and codec. */
export function frameOf(item: Outgoing, binary: boolean): Uint8Array {
  if (item instanceof EncodedResponse) {
    if (binary) return item.frame;
    item = item.message;
  }
  let cached = frames.get(item);
  if (!cached) frames.set(item, (cached = {}));
  if (binary) return (cached.binary ??= encodeEnvelope(0, toBinary(SubscribeResponseSchema, item)));
  return (cached.json ??= encodeEnvelope(0, encoder.encode(toJsonString(SubscribeResponseSchema, item))));
}

/**
 * Bytes `item` takes in a stream's buffer (rule EVT-6): its binary frame, whatever codec the stream
 * speaks — a measure every path agrees on, and the fast path needs that frame anyway.
 */
export function bufferedSizeOf(item: Outgoing): number {
  return frameOf(item, true).length;
}

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    length++;
  }
  return length;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

// Field 1, wire type 2 (length-delimited): SubscribeResponse.event and Event.cursor (event.proto,
// event_service.proto). A message followed by another encoding of one of its fields is that
// message with the field set (the protobuf encoding's merge rule), so appending the cursor to a
// stored Event, whose cursor is always empty, gives the Event with its cursor.
const FIELD_1_LEN = 0x0a;

/** The SubscribeResponse `{ event: <stored event> with cursor }`, spliced from `payload`, the stored Event's encoding. */
export function storedEventResponse(payload: Uint8Array, cursor: string): EncodedResponse {
  const cursorBytes = encoder.encode(cursor);
  const eventLength = payload.length + 1 + varintLength(cursorBytes.length) + cursorBytes.length;
  const messageLength = 1 + varintLength(eventLength) + eventLength;
  const frame = new Uint8Array(5 + messageLength);
  new DataView(frame.buffer).setUint32(1, messageLength);
  let at = 5;
  frame[at++] = FIELD_1_LEN;
  at = writeVarint(frame, at, eventLength);
  frame.set(payload, at);
  at += payload.length;
  frame[at++] = FIELD_1_LEN;
  at = writeVarint(frame, at, cursorBytes.length);
  frame.set(cursorBytes, at);
  return new EncodedResponse(frame);
}

