// Identifier syntax and generation (rule GRP-8).
import { randomBytes } from "node:crypto";
import { fieldInvalid } from "./errors.js";

const ID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Throws FIELD_INVALID for `field` unless `id` is a well-formed app, user or group ID. */
export function requireId(id: string, field: string): string {
  if (!isValidId(id)) throw fieldInvalid(field, `${field} must be 1 to 64 characters of [A-Za-z0-9_.@-]`);
  return id;
}

/** A random, URL-safe identifier with a readable prefix, e.g. "msg_3kT9...". */
export function newId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomBytes(bytes).toString("base64url")}`;
}
