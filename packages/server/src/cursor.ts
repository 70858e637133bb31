// Resume cursors (rules EVT-3, EVT-4, EVT-11). A cursor is the position of an event in its app's
// event log, written "<eventId>.<apptag>", where apptag is the first 8 characters of
// base64url(sha256(appId)): a cursor issued for one app is rejected by another. Clients must
// treat it as opaque; it is at most 256 bytes.
import { createHash } from "node:crypto";
import { ErrorReason } from "@narrowcast/gen";
import { narrowcastError } from "./errors.js";

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

export function cursorOf(appId: string, eventId: number): string {
  return `${eventId}.${appTag(appId)}`;
}

/**
 * Parses a cursor of `appId`; throws CURSOR_INVALID (rule EVT-4) when it is malformed, longer than
 * 256 bytes, was issued for another app, or is ahead of `latest` (the app's latest event ID).
 */
export function parseCursor(appId: string, cursor: string, latest: number): number {
  const invalid = (why: string) =>
    narrowcastError(ErrorReason.CURSOR_INVALID, `cursor ${why}`, { field: "cursor" });
  if (Buffer.byteLength(cursor, "utf8") > MAX_CURSOR_BYTES) throw invalid(`is longer than ${MAX_CURSOR_BYTES} bytes`);
  const match = /^(0|[1-9]\d{0,15})\.([A-Za-z0-9_-]{8})$/.exec(cursor);
  const id = match ? Number(match[1]) : NaN;
  if (!match || !Number.isSafeInteger(id)) throw invalid("is malformed");
  if (match[2] !== appTag(appId)) throw invalid("was not issued for this app");
  if (id > latest) throw invalid("is ahead of the event log");
  return id;
}
