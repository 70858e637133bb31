// Checks on rejected calls: the status code, and the narrowcast.v1.ErrorDetail every error must
// carry (rule ERR-1) with its reason, field and ids.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema, ErrorReason, type ErrorDetail } from "@narrowcast/gen";
import { CheckFailure } from "./check.js";

/** What a rejection must look like. `field` and `ids` are checked only when given. */
export interface ExpectedError {
  field?: string;
  /** Compared as a set: order does not matter. */
  ids?: readonly string[];
}

/** The observed shape of an error, in the terms of the spec. */
export interface ObservedError {
  code: Code;
  details: ErrorDetail[];
  message: string;
}

/** Renders a code as the spec names it, e.g. "InvalidArgument". */
export function codeName(code: Code): string {
  const name = Code[code] ?? String(code);
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** Renders a reason as the spec names it, e.g. "RECEIVER_LIST_TOO_LONG". */
export function reasonName(reason: ErrorReason): string {
  return ErrorReason[reason] ?? String(reason);
}

function describeExpected(code: Code, reason: ErrorReason, opts: ExpectedError): string {
  const parts = [`${codeName(code)} ${reasonName(reason)}`];
  if (opts.field !== undefined) parts.push(`field=${JSON.stringify(opts.field)}`);
  if (opts.ids !== undefined) parts.push(`ids=${JSON.stringify([...opts.ids].sort())}`);
  return parts.join(" ");
}

/** Renders an observed error for reports. */
export function describeObserved(o: ObservedError): string {
  const details = o.details.map(
    (d) => `${reasonName(d.reason)} field=${JSON.stringify(d.field)} ids=${JSON.stringify([...d.ids].sort())}`,
  );
  const detailText = details.length === 0 ? "no ErrorDetail" : details.join("; ");
  return `${codeName(o.code)} (${detailText}) message=${JSON.stringify(o.message)}`;
}

/** Converts anything thrown by a client call into an ObservedError. */
export function observe(err: unknown): ObservedError {
  const ce = ConnectError.from(err);
  let details: ErrorDetail[] = [];
  try {
    details = ce.findDetails(ErrorDetailSchema);
  } catch {
    details = [];
  }
  return { code: ce.code, details, message: ce.rawMessage };
}

/**
 * Checks that an observed error has the expected code and exactly one ErrorDetail with the
 * expected reason (and field / ids when given). Throws CheckFailure otherwise.
 */
export function checkError(o: ObservedError, code: Code, reason: ErrorReason, opts: ExpectedError = {}, what = "call"): ErrorDetail {
  const expected = describeExpected(code, reason, opts);
  const actual = describeObserved(o);
  const detail = o.details[0];
  const ok =
    o.code === code &&
    o.details.length === 1 &&
    detail !== undefined &&
    detail.reason === reason &&
    (opts.field === undefined || detail.field === opts.field) &&
    (opts.ids === undefined || sameSet(detail.ids, opts.ids));
  if (!ok) throw new CheckFailure(`${what} was rejected with the wrong error`, expected, actual);
  return detail;
}

/**
 * Awaits a call that the spec says must be rejected, and checks the rejection.
 * Returns the ErrorDetail.
 */
export async function expectError(
  call: Promise<unknown>,
  code: Code,
  reason: ErrorReason,
  opts: ExpectedError & { what?: string } = {},
): Promise<ErrorDetail> {
  const what = opts.what ?? "call";
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    return checkError(observe(err), code, reason, opts, what);
  }
  throw new CheckFailure(`${what} was accepted but must be rejected`, describeExpected(code, reason, opts), `success: ${summarize(result)}`);
}

function sameSet(actual: readonly string[], expected: readonly string[]): boolean {
  const a = [...new Set(actual)].sort();
  const e = [...new Set(expected)].sort();
  return actual.length === expected.length && a.length === e.length && a.every((v, i) => v === e[i]);
}

function summarize(value: unknown): string {
  try {
    const text = JSON.stringify(value, (k, v: unknown) => (k === "$typeName" ? undefined : typeof v === "bigint" ? Number(v) : v));
    return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(value);
  }
}
