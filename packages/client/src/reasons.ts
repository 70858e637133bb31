import { ErrorReason } from "@narrowcast/gen";

/** The ErrorInfo domain of every error a Narrowcast server defines (rule ERR-1). */
export const NARROWCAST_DOMAIN = "narrowcast";

/**
 * The reasons of the "narrowcast" domain: the names of the proto enum `narrowcast.v1.ErrorReason`
 * without their `ERROR_REASON_` prefix (protobuf-es already strips it), which is exactly what
 * `google.rpc.ErrorInfo.reason` carries on the wire. Derived from the generated enum, so a new
 * reason in the proto shows up here with the next `npm run generate`.
 */
export type Reason = Exclude<keyof typeof ErrorReason, "UNSPECIFIED">;

/**
 * The known reasons as constants, e.g. `Reason.RECEIVER_NOT_MEMBER === "RECEIVER_NOT_MEMBER"`.
 * Reasons are an open set: a newer server, or another domain, may send a reason not listed here,
 * so compare `error.reason` with these and fall back on `error.code` for the rest.
 */
export const Reason: { readonly [K in Reason]: K } = Object.freeze(
  Object.fromEntries(
    Object.keys(ErrorReason)
      // A numeric enum maps values back to names too ("0" → "UNSPECIFIED"); keep the names.
      .filter((name) => Number.isNaN(Number(name)) && name !== "UNSPECIFIED")
      .map((name) => [name, name]),
  ),
) as { readonly [K in Reason]: K };

/** True when `reason` is one this SDK knows of in the "narrowcast" domain. */
export function isKnownReason(reason: string): reason is Reason {
  return Object.hasOwn(Reason, reason);
}
