// google.protobuf.Duration request fields (IssueUserToken.ttl, Subscribe.heartbeat_interval,
// RotateAppSecret.previous_secret_grace_period): one validation, so every RPC rejects a negative,
// malformed or out-of-range duration the same way, with FIELD_INVALID naming the field.
import type { Duration } from "@bufbuild/protobuf/wkt";
import { fieldInvalid } from "./errors.js";

const MAX_NANOS = 999_999_999;

/** The duration in ms; undefined when unset or zero. Throws FIELD_INVALID if malformed or outside `[minMs, maxMs]`. */
export function durationMsOf(
  d: Duration | undefined,
  field: string,
  range: { minMs: number; maxMs: number; wholeSeconds?: boolean },
): number | undefined {
  if (!d || (d.seconds === 0n && d.nanos === 0)) return undefined;
  const malformed =
    Math.abs(d.nanos) > MAX_NANOS || (d.seconds > 0n && d.nanos < 0) || (d.seconds < 0n && d.nanos > 0);
  if (malformed) throw fieldInvalid(field, `${field} is not a valid duration`);
  if (range.wholeSeconds && d.nanos !== 0) throw fieldInvalid(field, `${field} must be a whole number of seconds`);
  const ms = Number(d.seconds) * 1000 + d.nanos / 1e6;
  if (!(ms >= range.minMs && ms <= range.maxMs)) {
    throw fieldInvalid(field, `${field} must be between ${range.minMs / 1000} and ${range.maxMs / 1000} seconds`);
  }
  return ms;
}
