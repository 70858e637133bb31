import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema, ErrorReason } from "@narrowcast/gen";

/**
 * NarrowcastError is the one error type of the SDK. Errors the server returned and errors
 * the SDK raised before sending anything (rules it can check locally) look the same: the
 * Connect code, the spec's machine-readable `reason`, the request `field` at fault and the
 * offending `ids` (docs/spec.md, ERR-1).
 */
export class NarrowcastError extends Error {
  override name = "NarrowcastError";
  /** The Connect / gRPC status code. */
  readonly code: Code;
  /** The spec's reason; UNSPECIFIED when the error did not come with a Narrowcast ErrorDetail (e.g. a network failure). */
  readonly reason: ErrorReason;
  /** The request field at fault, e.g. "receiver_ids"; empty if none. */
  readonly field: string;
  /** The offending IDs, e.g. duplicated receivers or non-member receivers. */
  readonly ids: readonly string[];
  /** True when the SDK rejected the request itself, before any network call. */
  readonly local: boolean;
  /** The message without the code and reason prefix. */
  readonly rawMessage: string;

  constructor(init: {
    code: Code;
    reason?: ErrorReason;
    field?: string;
    ids?: readonly string[];
    message?: string;
    local?: boolean;
    cause?: unknown;
  }) {
    const reason = init.reason ?? ErrorReason.UNSPECIFIED;
    const rawMessage = init.message ?? "";
    super(formatMessage(init.code, reason, rawMessage), { cause: init.cause });
    this.code = init.code;
    this.reason = reason;
    this.field = init.field ?? "";
    this.ids = init.ids ?? [];
    this.local = init.local ?? false;
    this.rawMessage = rawMessage;
  }

  /** The reason's enum name without prefix, e.g. "RECEIVER_LIST_TOO_LONG". */
  get reasonName(): string {
    return ErrorReason[this.reason] ?? String(this.reason);
  }

  /** The code as Connect spells it on the wire, e.g. "invalid_argument". */
  get codeName(): string {
    return codeToString(this.code);
  }

  /**
   * Converts anything thrown by a connect-es call (or by user code around it) into a
   * NarrowcastError, reading the narrowcast.v1.ErrorDetail if the server attached one.
   */
  static from(reason: unknown): NarrowcastError {
    if (reason instanceof NarrowcastError) {
      return reason;
    }
    const connectError = ConnectError.from(reason);
    const detail = connectError.findDetails(ErrorDetailSchema)[0];
    return new NarrowcastError({
      code: connectError.code,
      reason: detail?.reason,
      field: detail?.field,
      ids: detail?.ids,
      message: connectError.rawMessage,
      cause: reason,
    });
  }
}

/** A rejection the SDK raises itself, with the code and reason the server would give. */
export function localError(
  reason: ErrorReason,
  field: string,
  message: string,
  ids: readonly string[] = [],
): NarrowcastError {
  return new NarrowcastError({ code: Code.InvalidArgument, reason, field, ids, message, local: true });
}

function formatMessage(code: Code, reason: ErrorReason, message: string): string {
  const head = `[${codeToString(code)}]`;
  if (reason === ErrorReason.UNSPECIFIED) {
    return message ? `${head} ${message}` : head;
  }
  const name = ErrorReason[reason] ?? String(reason);
  return message ? `${head} ${name}: ${message}` : `${head} ${name}`;
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
