// The one helper for typed errors (rules ERR-1, ERR-5): every rejection is a ConnectError with a
// Connect code and a google.rpc.ErrorInfo {domain "narrowcast", reason, metadata field/ids};
// errors about a request field add a google.rpc.BadRequest, retryable ones a google.rpc.RetryInfo.
// Details travel in the error itself, so every writer (connect-es, the binary-body guard, the
// Subscribe fast path) sends them in whichever protocol the request used.
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema, ErrorInfoSchema, ErrorReason, RetryInfoSchema } from "@narrowcast/gen";

/** The error domain of every reason in the ErrorReason catalogue. */
export const ERROR_DOMAIN = "narrowcast";

/** The Connect code of each reason, as docs/spec.md's error table gives it. */
const codeOf: Record<ErrorReason, Code> = {
  [ErrorReason.UNSPECIFIED]: Code.Unknown,
  [ErrorReason.FIELD_INVALID]: Code.InvalidArgument,
  [ErrorReason.TOKEN_MISSING]: Code.Unauthenticated,
  [ErrorReason.TOKEN_INVALID]: Code.Unauthenticated,
  [ErrorReason.TOKEN_EXPIRED]: Code.Unauthenticated,
  [ErrorReason.ADMIN_KEY_INVALID]: Code.Unauthenticated,
  [ErrorReason.APP_NOT_FOUND]: Code.NotFound,
  [ErrorReason.USER_NOT_FOUND]: Code.NotFound,
  [ErrorReason.GROUP_NOT_FOUND]: Code.NotFound,
  [ErrorReason.NOT_A_MEMBER]: Code.PermissionDenied,
  [ErrorReason.MESSAGE_NOT_FOUND]: Code.NotFound,
  [ErrorReason.EMPTY_MESSAGE]: Code.InvalidArgument,
  [ErrorReason.INVALID_ELEMENT]: Code.InvalidArgument,
  [ErrorReason.MESSAGE_TOO_LARGE]: Code.InvalidArgument,
  [ErrorReason.RATE_LIMITED]: Code.ResourceExhausted,
  [ErrorReason.RECEIVER_LIST_TOO_LONG]: Code.InvalidArgument,
  [ErrorReason.DUPLICATE_RECEIVER]: Code.InvalidArgument,
  [ErrorReason.SENDER_IN_RECEIVER_LIST]: Code.InvalidArgument,
  [ErrorReason.RECEIVER_NOT_MEMBER]: Code.FailedPrecondition,
  [ErrorReason.TARGETED_WITH_MENTION]: Code.InvalidArgument,
  [ErrorReason.GROUP_TYPE_UNSUPPORTED]: Code.FailedPrecondition,
  [ErrorReason.FEATURE_NOT_IN_PLAN]: Code.PermissionDenied,
  [ErrorReason.MENTION_LIST_TOO_LONG]: Code.InvalidArgument,
  [ErrorReason.MENTIONED_USER_NOT_MEMBER]: Code.FailedPrecondition,
  [ErrorReason.RECALL_NOT_ALLOWED]: Code.PermissionDenied,
  [ErrorReason.RECALL_WINDOW_EXPIRED]: Code.FailedPrecondition,
  [ErrorReason.ALREADY_RECALLED]: Code.FailedPrecondition,
  [ErrorReason.ROLE_REQUIRED]: Code.PermissionDenied,
  [ErrorReason.JOIN_NOT_ALLOWED]: Code.FailedPrecondition,
  [ErrorReason.ALREADY_MEMBER]: Code.AlreadyExists,
  [ErrorReason.OWNER_CANNOT_LEAVE]: Code.FailedPrecondition,
  [ErrorReason.JOIN_REQUEST_NOT_FOUND]: Code.NotFound,
  [ErrorReason.GROUP_ALREADY_EXISTS]: Code.AlreadyExists,
  [ErrorReason.CURSOR_INVALID]: Code.InvalidArgument,
  [ErrorReason.SLOW_CONSUMER]: Code.ResourceExhausted,
  [ErrorReason.SHUTTING_DOWN]: Code.Unavailable,
  [ErrorReason.PAGE_TOKEN_INVALID]: Code.InvalidArgument,
  [ErrorReason.CURSOR_EXPIRED]: Code.OutOfRange,
  [ErrorReason.GROUP_FULL]: Code.FailedPrecondition,
  [ErrorReason.BACKEND_UNAVAILABLE]: Code.Unavailable,
  [ErrorReason.EDIT_NOT_ALLOWED]: Code.PermissionDenied,
  [ErrorReason.EDIT_WINDOW_EXPIRED]: Code.FailedPrecondition,
  [ErrorReason.REACTION_LIMIT_REACHED]: Code.FailedPrecondition,
  [ErrorReason.REPLY_WIDENS_AUDIENCE]: Code.FailedPrecondition,
  [ErrorReason.READ_RECEIPTS_NOT_ALLOWED]: Code.FailedPrecondition,
  [ErrorReason.READ_RECEIPTS_SENDER_ONLY]: Code.PermissionDenied,
  [ErrorReason.WEBHOOK_NOT_FOUND]: Code.NotFound,
  [ErrorReason.MESSAGE_REJECTED]: Code.PermissionDenied,
  [ErrorReason.APP_BACKEND_UNAVAILABLE]: Code.Unavailable,
  [ErrorReason.DEAD_LETTER_NOT_FOUND]: Code.NotFound,
};

/**
 * Retryable reasons and their default delay (rule ERR-5). RATE_LIMITED's real delay depends on
 * the bucket, so its caller passes `retryDelayMs`; the default only covers a caller that cannot.
 */
const defaultRetryDelayMs: Partial<Record<ErrorReason, number>> = {
  [ErrorReason.RATE_LIMITED]: 25,
  [ErrorReason.SLOW_CONSUMER]: 100,
  [ErrorReason.SHUTTING_DOWN]: 1000,
  [ErrorReason.BACKEND_UNAVAILABLE]: 1000,
  [ErrorReason.APP_BACKEND_UNAVAILABLE]: 1000,
};

export function reasonCode(reason: ErrorReason): Code {
  return codeOf[reason];
}

/** The wire name of a reason: the enum value's name without its ERROR_REASON_ prefix. */
export function reasonName(reason: ErrorReason): string {
  return ErrorReason[reason];
}

export interface ErrorDetailInit {
  /** The request field at fault, as a path ("receiver_ids", "elements[0]"). */
  field?: string;
  /** The offending IDs. */
  ids?: readonly string[];
  /** Retryable reasons only: how long the client should wait (at least 1 ms is sent). */
  retryDelayMs?: number;
}

/** Creates the typed error for `reason`. */
export function narrowcastError(reason: ErrorReason, message: string, detail: ErrorDetailInit = {}): ConnectError {
  const name = reasonName(reason);
  const metadata: Record<string, string> = {};
  if (detail.field) metadata.field = detail.field;
  if (detail.ids?.length) metadata.ids = detail.ids.join(",");
  const details: ConstructorParameters<typeof ConnectError>[3] = [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: name, domain: ERROR_DOMAIN, metadata }) },
  ];
  // BadRequest is for bad requests (AIP-193): InvalidArgument errors about a field. A NotFound
  // or PermissionDenied naming `group_id` keeps the field in ErrorInfo's metadata only (ERR-5).
  if (detail.field && codeOf[reason] === Code.InvalidArgument) {
    details.push({
      desc: BadRequestSchema,
      value: create(BadRequestSchema, { fieldViolations: [{ field: detail.field, description: message, reason: name }] }),
    });
  }
  const retry = detail.retryDelayMs ?? defaultRetryDelayMs[reason];
  if (retry !== undefined && reason in defaultRetryDelayMs) {
    details.push({
      desc: RetryInfoSchema,
      value: create(RetryInfoSchema, { retryDelay: durationFromMs(Math.max(1, Math.ceil(retry))) }),
    });
  }
  return new ConnectError(message, codeOf[reason], undefined, details);
}

/** Shorthand for FIELD_INVALID on one field (rule ERR-3). */
export function fieldInvalid(field: string, message: string): ConnectError {
  return narrowcastError(ErrorReason.FIELD_INVALID, message, { field });
}

/** Reads the reason back from an error's ErrorInfo (for logs); undefined if it has none of ours. */
export function reasonOf(err: unknown): string | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  const info = err.findDetails(ErrorInfoSchema).find((d) => d.domain === ERROR_DOMAIN);
  return info?.reason;
}

/** Node socket errors, PostgreSQL SQLSTATEs and NATS codes that mean "the backend cannot be reached now". */
const UNREACHABLE_CODES = new Set([
  // Node sockets (pg and nats connect over TCP).
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN",
  // PostgreSQL: connection exceptions (class 08), operator intervention (57P01-57P03), too many connections.
  "08000", "08001", "08003", "08004", "08006", "57P01", "57P02", "57P03", "53300",
  // SQLite: another writer holds the database longer than the busy timeout.
  "SQLITE_BUSY",
  // NATS (nats.js error codes).
  "CONNECTION_CLOSED", "CONNECTION_DRAINING", "CONNECTION_REFUSED", "DISCONNECT", "TIMEOUT",
]);

/** Messages of errors that carry no code: pg's when the server goes away mid-query, pg-pool's connect timeout. */
const UNREACHABLE_MESSAGES = [/^Connection terminated/, /timeout exceeded when trying to connect/, /^Client has encountered a connection error/];

/** True when `err` says a backend (database, bus) cannot be reached now (rule ERR-6). */
export function isBackendUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return true;
  if (err instanceof AggregateError) return err.errors.some(isBackendUnreachable);
  return UNREACHABLE_MESSAGES.some((re) => re.test(err.message)) || (err.cause !== undefined && isBackendUnreachable(err.cause));
}

/**
 * What a client may see of an error: typed errors as they are; a backend outage as Unavailable
 * BACKEND_UNAVAILABLE (rule ERR-6); anything else as a bare Internal. Driver messages, addresses
 * and stacks stay in the server's log.
 */
export function publicError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (isBackendUnreachable(err)) {
    return narrowcastError(ErrorReason.BACKEND_UNAVAILABLE, "a backend of the server is unreachable; retry shortly");
  }
  return new ConnectError("internal error", Code.Internal);
}
