// Page tokens of every List RPC (rules PAG-1 to PAG-3), in one place so each RPC only says what
// its key is. Pagination is keyset: a token holds the last key of its page, and the next page is
// the items strictly after it in the listing's order, so inserts between pages neither repeat
// nor hide items that existed when the walk began.
//
// A token is base64url(JSON {v: 1, k: scope hash, a: last key}). The scope hash binds it to the
// RPC, app, caller, group and filters it was issued for: a token replayed anywhere else (another
// caller, group, or ListMessages anchors) is PAGE_TOKEN_INVALID rather than a silently wrong page.
// Tokens are not encrypted: a caller who forges one only walks a listing it may read anyway.
import { createHash } from "node:crypto";
import { ErrorReason } from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "./errors.js";
import { isValidId } from "./ids.js";

const VERSION = 1;
/** Longer than any token this module issues; anything longer is garbage, decoded without parsing. */
const MAX_TOKEN_CHARS = 1024;

/** Page sizes of rule PAG-2: 0 means `defaultSize`, above `maxSize` is coerced to it. */
export interface PageSizes {
  defaultSize: number;
  maxSize: number;
}

export const LIST_SIZES: PageSizes = { defaultSize: 50, maxSize: 1000 };
export const MESSAGE_SIZES: PageSizes = { defaultSize: 20, maxSize: 100 };

/** What a token is bound to (rule PAG-3). */
export interface PageScope {
  /** The RPC, e.g. "narrowcast.v1.GroupService/ListMembers". */
  rpc: string;
  appId: string;
  /** The calling user, or "" for AdminService (one admin key per server). */
  caller: string;
  groupId?: string;
  /** Whatever else fixes the listing (ListMessages: its anchors). */
  filters?: string;
}

/** One List request's page parameters, validated. */
export interface PageCursor<K> {
  /** Items to return at most. */
  size: number;
  /** The last key of the previous page; undefined on the first page. */
  after: K | undefined;
  /** Splits what the store returned (ask it for `size + 1`) into this page and the next token. */
  finish<T>(items: readonly T[], keyOf: (item: T) => K): { items: T[]; nextPageToken: string };
}

function scopeHash(scope: PageScope): string {
  const text = [scope.rpc, scope.appId, scope.caller, scope.groupId ?? "", scope.filters ?? ""].join("|");
  return createHash("sha256").update(text).digest("base64url").slice(0, 10);
}

function invalidToken(): Error {
  return narrowcastError(ErrorReason.PAGE_TOKEN_INVALID, "page_token is malformed or was issued for another request", {
    field: "page_token",
  });
}

/** Validates page_size (rule PAG-2): negative is FIELD_INVALID; 0 is the default; above the max is the max. */
export function pageSizeOf(pageSize: number, sizes: PageSizes): number {
  if (!Number.isInteger(pageSize) || pageSize < 0) throw fieldInvalid("page_size", "page_size must not be negative");
  if (pageSize === 0) return sizes.defaultSize;
  return Math.min(pageSize, sizes.maxSize);
}

export function encodePageToken<K>(scope: PageScope, after: K): string {
  return Buffer.from(JSON.stringify({ v: VERSION, k: scopeHash(scope), a: after })).toString("base64url");
}

/** The key in a token issued for `scope`; PAGE_TOKEN_INVALID otherwise (rule PAG-3). */
export function decodePageToken<K>(token: string, scope: PageScope, isKey: (a: unknown) => a is K): K {
  if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalidToken();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidToken();
  }
  if (typeof parsed !== "object" || parsed === null) throw invalidToken();
  const { v, k, a } = parsed as { v?: unknown; k?: unknown; a?: unknown };
  if (v !== VERSION || k !== scopeHash(scope) || !isKey(a)) throw invalidToken();
  return a;
}

/** Reads page_size and page_token of a List request bound to `scope`. */
export function openPage<K>(
  req: { pageSize: number; pageToken: string },
  scope: PageScope,
  sizes: PageSizes,
  isKey: (a: unknown) => a is K,
): PageCursor<K> {
  const size = pageSizeOf(req.pageSize, sizes);
  const after = req.pageToken ? decodePageToken(req.pageToken, scope, isKey) : undefined;
  return {
    size,
    after,
    finish(items, keyOf) {
      const page = items.slice(0, size);
      const more = items.length > size && page.length > 0;
      return { items: page, nextPageToken: more ? encodePageToken(scope, keyOf(page[page.length - 1])) : "" };
    },
  };
}

// Key validators for the listings' orders (rule PAG-1).

/** Groups by group ID, members and users by user ID: an ID of GRP-8's syntax, nothing the store would choke on. */
export function isIdKey(a: unknown): a is string {
  return typeof a === "string" && isValidId(a);
}

/** Join requests by (create time, user ID). */
export function isJoinRequestKey(a: unknown): a is { createdAt: number; userId: string } {
  if (typeof a !== "object" || a === null) return false;
  const { createdAt, userId } = a as Record<string, unknown>;
  return Number.isSafeInteger(createdAt) && isIdKey(userId);
}

/** Messages by seq. */
export function isSeqKey(a: unknown): a is number {
  return Number.isSafeInteger(a) && (a as number) >= 0;
}

/** Conversations by (activity descending, group ID). */
export function isActivityKey(a: unknown): a is { at: number; groupId: string } {
  if (typeof a !== "object" || a === null) return false;
  const { at, groupId } = a as Record<string, unknown>;
  return Number.isSafeInteger(at) && isIdKey(groupId);
}

/** Dead letters by (create time descending, delivery ID). */
export function isDeadLetterKey(a: unknown): a is { createdAt: number; deliveryId: string } {
  if (typeof a !== "object" || a === null) return false;
  const { createdAt, deliveryId } = a as Record<string, unknown>;
  return Number.isSafeInteger(createdAt) && typeof deliveryId === "string" && /^[A-Za-z0-9_.@-]{1,400}$/.test(deliveryId);
}
