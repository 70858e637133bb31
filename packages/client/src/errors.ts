import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "@narrowcast/gen";
import { NARROWCAST_DOMAIN } from "./reasons.js";
import type { Reason } from "./reasons.js";

/** One entry of a `google.rpc.BadRequest`: a request field and what is wrong with it. */
export interface FieldViolation {
  /** The field path, e.g. "receiver_ids" or "elements[0]". */
  field: string;
  /** Why, in English. */
  description: string;
  /** The same reason string as the error's. */
  reason: string;
}

/** What a NarrowcastError is made of; every field but `code` is optional. */
export interface NarrowcastErrorInit {
  code: Code;
  reason?: string;
  domain?: string;
  /** ErrorInfo metadata; "field" and "ids" are read from here unless given below. */
  metadata?: Readonly<Record<string, string>>;
  field?: string;
  ids?: readonly string[];
  fieldViolations?: readonly FieldViolation[];
  retryDelayMs?: number;
  message?: string;
  local?: boolean;
  cause?: unknown;
}

/**
 * NarrowcastError is the one error type of the SDK. Errors the server returned and errors the SDK
 * raised before sending anything (rules it can check locally) have the same shape: the Connect
 * code, and what the server's `google.rpc` details say (rules ERR-1, ERR-5): ErrorInfo's `reason`,
 * `domain` and `metadata` (with `field` and the comma-separated `ids` split out), BadRequest's
 * field violations and RetryInfo's delay.
 *
 * Branch on `(domain, reason)` — `error.is(Reason.RECEIVER_NOT_MEMBER)` — and treat a reason you
 * do not know by its `code`: reasons are an open set, and third-party servers add their own in
 * their own domain.
 */
export class NarrowcastError extends Error {
  override name = "NarrowcastError";
  /** The Connect / gRPC status code. */
  readonly code: Code;
  /**
   * ErrorInfo's reason, e.g. "RECEIVER_NOT_MEMBER" (see `Reason` for the narrowcast domain's);
   * empty when the error carried no ErrorInfo (e.g. a network failure).
   */
  readonly reason: Reason | (string & {});
  /** ErrorInfo's domain: "narrowcast" for the protocol's own reasons; empty without ErrorInfo. */
  readonly domain: string;
  /** ErrorInfo's metadata, as sent (including the raw "field" and "ids" entries). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The request field at fault, e.g. "receiver_ids"; empty if none. */
  readonly field: string;
  /** The offending IDs, e.g. duplicated receivers or non-member receivers. */
  readonly ids: readonly string[];
  /** BadRequest's field violations; empty when the error is not about a request field. */
  readonly fieldViolations: readonly FieldViolation[];
  /** RetryInfo's delay in milliseconds: the error is retryable after it. Undefined without RetryInfo. */
  readonly retryDelayMs: number | undefined;
  /** True when the SDK rejected the request itself, before any network call. */
  readonly local: boolean;
  /** The message without the code and reason prefix. */
  readonly rawMessage: string;

  constructor(init: NarrowcastErrorInit) {
    const reason = init.reason ?? "";
    const rawMessage = init.message ?? "";
    super(formatMessage(init.code, reason, rawMessage), { cause: init.cause });
    const metadata = init.metadata ?? {};
    this.code = init.code;
    this.reason = reason;
    this.domain = init.domain ?? "";
    this.metadata = metadata;
    this.fieldViolations = init.fieldViolations ?? [];
    this.field = init.field ?? metadata.field ?? this.fieldViolations[0]?.field ?? "";
    this.ids = init.ids ?? splitIds(metadata.ids);
    this.retryDelayMs = init.retryDelayMs;
    this.local = init.local ?? false;
    this.rawMessage = rawMessage;
  }

  /** True for this reason of the given domain (default "narrowcast"). */
  is(reason: Reason | (string & {}), domain: string = NARROWCAST_DOMAIN): boolean {
    return this.reason === reason && this.domain === domain;
  }

  /** The code as Connect spells it on the wire, e.g. "invalid_argument". */
  get codeName(): string {
    return codeToString(this.code);
  }

  /**
   * Converts anything thrown by a connect-es call (or by user code around it) into a
   * NarrowcastError, reading the google.rpc details the server attached.
   */
  static from(reason: unknown): NarrowcastError {
    if (reason instanceof NarrowcastError) {
      return reason;
    }
    const connectError = ConnectError.from(reason);
    // findDetails skips details it cannot decode, so a server's extra details do no harm.
    const info = connectError.findDetails(ErrorInfoSchema)[0];
    const badRequest = connectError.findDetails(BadRequestSchema)[0];
    const retry = connectError.findDetails(RetryInfoSchema)[0];
    return new NarrowcastError({
      code: connectError.code,
      reason: info?.reason,
      domain: info?.domain,
      metadata: info?.metadata,
      fieldViolations: badRequest?.fieldViolations.map(({ field, description, reason }) => ({ field, description, reason })),
      retryDelayMs: retry ? durationMs(retry.retryDelay) : undefined,
      message: connectError.rawMessage,
      cause: reason,
    });
  }
}

/**
 * A rejection the SDK raises itself, shaped as the server's would be: ErrorInfo in the
 * "narrowcast" domain and, with a field, a BadRequest violation carrying the same reason.
 */
export function localError(
  reason: Reason,
  field: string,
  message: string,
  ids: readonly string[] = [],
  code: Code = Code.InvalidArgument,
): NarrowcastError {
  const metadata: Record<string, string> = {};
  if (field !== "") {
    metadata.field = field;
  }
  if (ids.length > 0) {
    metadata.ids = ids.join(",");
  }
  return new NarrowcastError({
    code,
    reason,
    domain: NARROWCAST_DOMAIN,
    metadata,
    fieldViolations: field === "" ? [] : [{ field, description: message, reason }],
    message,
    local: true,
  });
}

// Metadata values are strings; several IDs are comma-joined (rule ERR-1). User IDs cannot
// contain a comma (rule GRP-8), so the split is exact.
function splitIds(ids: string | undefined): string[] {
  return ids ? ids.split(",").filter((id) => id !== "") : [];
}

function durationMs(duration: { seconds: bigint; nanos: number } | undefined): number {
  if (!duration) {
    return 0;
  }
  return Math.max(0, Number(duration.seconds) * 1000 + Math.ceil(duration.nanos / 1_000_000));
}

function formatMessage(code: Code, reason: string, message: string): string {
  const head = `[${codeToString(code)}]`;
  if (reason === "") {
    return message ? `${head} ${message}` : head;
  }
  return message ? `${head} ${reason}: ${message}` : `${head} ${reason}`;
}

// Same spelling as connect-es uses in its error messages ("invalid_argument").
function codeToString(code: Code): string {
  const name = Code[code];
  if (typeof name !== "string") {
    return String(code);
  }
  return name[0].toLowerCase() + name.slice(1).replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** Returns a response field the protocol always sets; a server that leaves it out is broken. */
export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw new NarrowcastError({ code: Code.Internal, message: `the server's response has no ${field}` });
  }
  return value;
}
