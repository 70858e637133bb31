// The one place where wire values become SDK values and back. The protocol has no unsigned
// ints and its int64 fields (seq, read_seq, size_bytes, ...) are `bigint` in protobuf-es, which
// cannot generate them as JS numbers (bufbuild/protobuf-es#292). The SDK surface uses `number`
// (seqs stay far below 2^53) and `Date` for timestamps, so apps never mix 1n and 1. The
// conversion walks the message descriptor, so every message type and every future field is
// covered by the same two functions instead of a hand-written mapper per type.
import { ScalarType, create } from "@bufbuild/protobuf";
import type { DescField, DescMessage, DescOneof, MessageShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/**
 * A generated message as the SDK exposes it: plain data without `$typeName`, every int64 a
 * `number`, every google.protobuf.Timestamp a `Date`; nested messages, lists, maps and oneofs
 * (`{ case, value }`) converted alike.
 */
export type Plain<T> = T extends bigint
  ? number
  : T extends Timestamp
    ? Date
    : T extends Uint8Array
      ? Uint8Array
      : T extends readonly (infer U)[]
        ? Plain<U>[]
        : T extends object
          ? { [K in keyof T as K extends "$typeName" | "$unknown" ? never : K]: Plain<T[K]> }
          : T;

const TIMESTAMP = "google.protobuf.Timestamp";

function isInt64(scalar: ScalarType | undefined): boolean {
  switch (scalar) {
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return true;
    default:
      return false;
  }
}

/** A wire message → its SDK form. */
export function fromProto<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Plain<MessageShape<Desc>> {
  return messageFrom(schema, message as unknown as Record<string, unknown>) as Plain<MessageShape<Desc>>;
}

/** An SDK value → the wire message (e.g. to print it with `toJson` or to pass it to a raw service). */
export function toProto<Desc extends DescMessage>(schema: Desc, value: Plain<MessageShape<Desc>>): MessageShape<Desc> {
  return create(schema, messageTo(schema, value as unknown as Record<string, unknown>) as never);
}

function messageFrom(desc: DescMessage, message: Record<string, unknown>): unknown {
  if (desc.typeName === TIMESTAMP) {
    return timestampDate(message as unknown as Timestamp);
  }
  const out: Record<string, unknown> = {};
  for (const member of desc.members) {
    const value = message[member.localName];
    out[member.localName] = member.kind === "oneof" ? oneofFrom(member, value) : fieldFrom(member, value);
  }
  return out;
}

function oneofFrom(oneof: DescOneof, value: unknown): unknown {
  const selected = value as { case: string | undefined; value?: unknown };
  const field = oneof.fields.find((f) => f.localName === selected.case);
  return field ? { case: selected.case, value: fieldFrom(field, selected.value) } : { case: undefined };
}

function fieldFrom(field: DescField, value: unknown): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return isInt64(field.scalar) ? Number(value) : value;
    case "enum":
      return value;
    case "message":
      return value === undefined ? undefined : messageFrom(field.message, value as Record<string, unknown>);
    case "list": {
      const list = value as unknown[];
      if (field.listKind === "message") {
        return list.map((item) => messageFrom(field.message, item as Record<string, unknown>));
      }
      return field.listKind === "scalar" && isInt64(field.scalar) ? list.map(Number) : [...list];
    }
    case "map": {
      const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
        if (field.mapKind === "message") {
          return [key, messageFrom(field.message, item as Record<string, unknown>)];
        }
        return [key, field.mapKind === "scalar" && isInt64(field.scalar) ? Number(item) : item];
      });
      return Object.fromEntries(entries);
    }
  }
}

function messageTo(desc: DescMessage, value: Record<string, unknown>): unknown {
  if (desc.typeName === TIMESTAMP) {
    return timestampFromDate(value as unknown as Date);
  }
  const out: Record<string, unknown> = {};
  for (const member of desc.members) {
    const item = value[member.localName];
    if (item === undefined) {
      continue;
    }
    if (member.kind === "oneof") {
      const selected = item as { case: string | undefined; value?: unknown };
      const field = member.fields.find((f) => f.localName === selected.case);
      out[member.localName] = field ? { case: selected.case, value: fieldTo(field, selected.value) } : { case: undefined };
    } else {
      out[member.localName] = fieldTo(member, item);
    }
  }
  return out;
}

function fieldTo(field: DescField, value: unknown): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return isInt64(field.scalar) ? BigInt(value as number | bigint) : value;
    case "enum":
      return value;
    case "message":
      return messageTo(field.message, value as Record<string, unknown>);
    case "list": {
      const list = value as unknown[];
      if (field.listKind === "message") {
        return list.map((item) => messageTo(field.message, item as Record<string, unknown>));
      }
      return field.listKind === "scalar" && isInt64(field.scalar) ? list.map((n) => BigInt(n as number)) : [...list];
    }
    case "map": {
      const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
        if (field.mapKind === "message") {
          return [key, messageTo(field.message, item as Record<string, unknown>)];
        }
        return [key, field.mapKind === "scalar" && isInt64(field.scalar) ? BigInt(item as number) : item];
      });
      return Object.fromEntries(entries);
    }
  }
}
