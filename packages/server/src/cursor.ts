// Resume cursors (rule EVT-3). A cursor is the position of an event in its app's event log,
// written as "e" + decimal ID. Clients must treat it as opaque.
import { ErrorReason } from "@narrowcast/gen";
import { narrowcastError } from "./errors.js";

export function cursorOf(eventId: number): string {
  return `e${eventId}`;
}

/** Parses a cursor; throws CURSOR_INVALID (rule EVT-4) unless it is well formed and not ahead of `latest`. */
export function parseCursor(cursor: string, latest: number): number {
  const match = /^e(\d{1,15})$/.exec(cursor);
  const id = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(id) || id > latest) {
    throw narrowcastError(ErrorReason.CURSOR_INVALID, "cursor is malformed or ahead of the event log", {
      field: "cursor",
    });
  }
  return id;
}
