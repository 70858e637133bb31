// The one helper for typed errors (rule ERR-1): every rejection is a ConnectError with a
// Connect code and a narrowcast.v1.ErrorDetail naming the reason, the field and the IDs.
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ErrorDetailSchema, ErrorReason } from "@narrowcast/gen";

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
  [ErrorReason.FEATURE_NOT_IN_EDITION]: Code.PermissionDenied,
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
};

export function reasonCode(reason: ErrorReason): Code {
  return codeOf[reason];
}

/** Creates the typed error for `reason`. */
export function narrowcastError(
  reason: ErrorReason,
  message: string,
  detail: { field?: string; ids?: readonly string[] } = {},
): ConnectError {
  return new ConnectError(message, codeOf[reason], undefined, [
    {
      desc: ErrorDetailSchema,
      value: create(ErrorDetailSchema, { reason, field: detail.field ?? "", ids: [...(detail.ids ?? [])] }),
    },
  ]);
}

/** Shorthand for FIELD_INVALID on one field (rule ERR-3). */
export function fieldInvalid(field: string, message: string): ConnectError {
  return narrowcastError(ErrorReason.FIELD_INVALID, message, { field });
}

/** Reads the reason back from an error (for logs). */
export function reasonOf(err: unknown): string | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  const [detail] = err.findDetails(ErrorDetailSchema);
  return detail ? ErrorReason[detail.reason] : undefined;
}
