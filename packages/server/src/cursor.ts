// Resume cursors (rules EVT-3, EVT-4, EVT-11). A cursor is the caller's place in its app's log:
// one position per partition (positions.ts), written "p.<apptag>.<positions>", where apptag is
// the first 8 characters of base64url(sha256(appId)) (a cursor issued for one app is rejected by
// another) and <positions> is base64url of the positions as unsigned LEB128 varints, trailing
// zeros left out. Clients treat it as opaque; it is at most ~180 bytes (limit 256).
// Cursors of 0.2 ("<eventId>.<apptag>", one app-wide log) still parse: migration 5 put that log
// into partition 0, positions unchanged.
import { createHash } from "node:crypto";
import { ErrorReason } from "@narrowcast/gen";
import { narrowcastError } from "./errors.js";
import { PARTITIONS, origin, type Positions } from "./positions.js";

/** Longest cursor accepted (rule EVT-11). */
export const MAX_CURSOR_BYTES = 256;

const tags = new Map<string, string>();
/** Bound on the memo of app tags: beyond it the memo starts over (apps are few; tags are cheap). */
const MAX_TAGS = 10_000;

/** The app's tag: 8 characters of base64url(sha256(appId)), computed once per app. */
export function appTag(appId: string): string {
  let tag = tags.get(appId);
  if (tag === undefined) {
    tag = createHash("sha256").update(appId).digest("base64url").slice(0, 8);
    if (tags.size >= MAX_TAGS) tags.clear();
    tags.set(appId, tag);
  }
  return tag;
}

export function cursorOf(appId: string, positions: readonly number[]): string {
  let end = PARTITIONS;
  while (end > 0 && positions[end - 1] === 0) end--;
  const bytes: number[] = [];
  for (let p = 0; p < end; p++) {
    // Positions reach 2^53: divide rather than shift (shifts are 32-bit).
    let v = positions[p];
    while (v >= 0x80) {
      bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    bytes.push(v);
  }
  return `p.${appTag(appId)}.${Buffer.from(bytes).toString("base64url")}`;
}

/** The positions a cursor's body encodes, or undefined if it is not exactly such an encoding. */
function decodePositions(body: string): Positions | undefined {
  const bytes = Buffer.from(body, "base64url");
  // Only the canonical spelling: no padding, no stray characters, no trailing zero positions.
  if (bytes.toString("base64url") !== body) return undefined;
  const out = origin();
  let p = 0;
  for (let i = 0; i < bytes.length; p++) {
    if (p >= PARTITIONS) return undefined;
    let v = 0;
    let scale = 1;
    for (;;) {
      if (i >= bytes.length || scale > 2 ** 49) return undefined;
      const b = bytes[i++];
      v += (b & 0x7f) * scale;
      scale *= 0x80;
      if (b < 0x80) {
        if (b === 0 && scale > 0x80) return undefined; // an over-long varint
        break;
      }
    }
    if (!Number.isSafeInteger(v)) return undefined;
    out[p] = v;
  }
  if (p > 0 && out[p - 1] === 0) return undefined;
  return out;
}

/**
 * Parses a cursor of `appId`; throws CURSOR_INVALID (rule EVT-4) when it is malformed, longer than
 * 256 bytes, was issued for another app, or is ahead of `latest` (the app's latest positions).
 */
export function parseCursor(appId: string, cursor: string, latest: readonly number[]): Positions {
  const invalid = (why: string) =>
    narrowcastError(ErrorReason.CURSOR_INVALID, `cursor ${why}`, { field: "cursor" });
  if (Buffer.byteLength(cursor, "utf8") > MAX_CURSOR_BYTES) throw invalid(`is longer than ${MAX_CURSOR_BYTES} bytes`);
  let positions: Positions | undefined;
  let tag: string | undefined;
  const current = /^p\.([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]*)$/.exec(cursor);
  const legacy = /^(0|[1-9]\d{0,15})\.([A-Za-z0-9_-]{8})$/.exec(cursor);
  if (current) {
    tag = current[1];
    positions = decodePositions(current[2]);
  } else if (legacy && Number.isSafeInteger(Number(legacy[1]))) {
    tag = legacy[2];
    positions = origin();
    positions[0] = Number(legacy[1]);
  }
  if (!positions) throw invalid("is malformed");
  if (tag !== appTag(appId)) throw invalid("was not issued for this app");
  for (let p = 0; p < PARTITIONS; p++) if (positions[p] > latest[p]) throw invalid("is ahead of the event log");
  return positions;
}
