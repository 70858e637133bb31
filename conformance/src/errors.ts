// Checks on rejected calls: the status code and the google.rpc details every error must carry
// (rules ERR-1, ERR-5, WIRE-5): exactly one google.rpc.ErrorInfo of domain "narrowcast" whose
// reason is the ErrorReason name (without its prefix) and whose metadata holds "field" and "ids"
// (comma-joined); a google.rpc.BadRequest naming the field when there is one; a
// google.rpc.RetryInfo for the retryable reasons.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, ErrorReason, RetryInfoSchema, type BadRequest, type ErrorInfo, type RetryInfo } from "@narrowcast/gen";
import { CheckFailure } from "./check.js";

/** The error domain of every reason the spec defines. */
export const ERROR_DOMAIN = "narrowcast";

/** Reasons that must carry a google.rpc.RetryInfo (rule ERR-5). */
export const retryableReasons: readonly string[] = ["RATE_LIMITED", "SLOW_CONSUMER", "SHUTTING_DOWN", "BACKEND_UNAVAILABLE", "APP_BACKEND_UNAVAILABLE"];

/** What a rejection must look like. `field` and `ids` are checked only when given. */
export interface ExpectedError {
  /** The metadata "field" ("" = must have none). */
  field?: string;
  /** The metadata "ids": each once, in the order they first appear in the request (ERR-1). */
  ids?: readonly string[];
}

/** The observed shape of an error, in the terms of the spec. */
export interface ObservedError {
  code: Code;
  /** Every google.rpc.ErrorInfo detail, whatever its domain. */
  infos: ErrorInfo[];
  badRequests: BadRequest[];
  retryInfos: RetryInfo[];
  /** The type names of every detail, in order. */
  detailTypes: string[];
  message: string;
}

/** The narrowcast ErrorInfo of an error, read back: what cases compare. */
export interface ErrorSummary {
  domain: string;
  reason: string;
  /** metadata["field"], or "" when absent. */
  field: string;
  /** metadata["ids"] split at commas; [] when absent. */
  ids: string[];
  info: ErrorInfo;
}

/** Renders a code as the spec names it, e.g. "InvalidArgument". */
export function codeName(code: Code): string {
  const name = Code[code] ?? String(code);
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** The wire name of a reason, e.g. "RECEIVER_LIST_TOO_LONG". */
export function reasonName(reason: ErrorReason | string): string {
  return typeof reason === "string" ? reason : (ErrorReason[reason] ?? String(reason));
}

/** Reads an ErrorInfo's metadata the way the spec defines it. */
export function summarizeInfo(info: ErrorInfo): ErrorSummary {
  const ids = info.metadata.ids ?? "";
  return { domain: info.domain, reason: info.reason, field: info.metadata.field ?? "", ids: ids === "" ? [] : ids.split(","), info };
}

function describeExpected(code: Code, reason: string, opts: ExpectedError): string {
  const parts = [`${codeName(code)} ${reason} (ErrorInfo domain "${ERROR_DOMAIN}")`];
  if (opts.field !== undefined) parts.push(opts.field === "" ? "no field" : `field=${JSON.stringify(opts.field)} (+ BadRequest)`);
  if (opts.ids !== undefined) parts.push(`ids=${JSON.stringify(opts.ids.join(","))}`);
  if (retryableReasons.includes(reason)) parts.push("+ RetryInfo");
  return parts.join(" ");
}

/** Renders an observed error for reports. */
export function describeObserved(o: ObservedError): string {
  const parts = o.infos.map((i) => {
    const s = summarizeInfo(i);
    const extra = Object.keys(i.metadata).filter((k) => k !== "field" && k !== "ids");
    return `ErrorInfo ${JSON.stringify(s.domain)}/${s.reason} field=${JSON.stringify(s.field)} ids=${JSON.stringify(s.ids.join(","))}${extra.length ? ` +metadata ${extra.join(",")}` : ""}`;
  });
  for (const b of o.badRequests) parts.push(`BadRequest[${b.fieldViolations.map((v) => `${v.field}:${v.reason}`).join(", ")}]`);
  for (const r of o.retryInfos) parts.push(`RetryInfo ${r.retryDelay ? `${Number(r.retryDelay.seconds) * 1000 + r.retryDelay.nanos / 1e6} ms` : "(no delay)"}`);
  const others = o.detailTypes.filter((t) => !["google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo"].includes(t));
  if (others.length > 0) parts.push(`other details: ${others.join(", ")}`);
  const detailText = parts.length === 0 ? "no details" : parts.join("; ");
  return `${codeName(o.code)} (${detailText}) message=${JSON.stringify(o.message)}`;
}

function findSafe<T>(ce: ConnectError, find: () => T[]): T[] {
  try {
    return find();
  } catch {
    void ce;
    return [];
  }
}

/** Converts anything thrown by a client call into an ObservedError. */
export function observe(err: unknown): ObservedError {
  const ce = ConnectError.from(err);
  return {
    code: ce.code,
    infos: findSafe(ce, () => ce.findDetails(ErrorInfoSchema)),
    badRequests: findSafe(ce, () => ce.findDetails(BadRequestSchema)),
    retryInfos: findSafe(ce, () => ce.findDetails(RetryInfoSchema)),
    detailTypes: ce.details.map((d) => ("desc" in d ? d.desc.typeName : d.type)),
    message: ce.rawMessage,
  };
}

/**
 * The problems with an error's details that ERR-1 / ERR-5 forbid, whatever the reason: not exactly
 * one ErrorInfo, a foreign domain, a field without a matching BadRequest violation, a retryable
 * reason without RetryInfo. Empty when the details are well-formed.
 */
export function detailProblems(o: ObservedError): string[] {
  const problems: string[] = [];
  if (o.infos.length !== 1) {
    problems.push(`${o.infos.length} google.rpc.ErrorInfo details instead of exactly one`);
    return problems;
  }
  const s = summarizeInfo(o.infos[0]!);
  if (s.domain !== ERROR_DOMAIN) problems.push(`ErrorInfo domain ${JSON.stringify(s.domain)} instead of "${ERROR_DOMAIN}"`);
  if (s.reason === "" || s.reason === "UNSPECIFIED" || s.reason.startsWith("ERROR_REASON_")) problems.push(`ErrorInfo reason ${JSON.stringify(s.reason)} is not a reason name`);
  else if (s.domain === ERROR_DOMAIN && !(s.reason in ErrorReason)) problems.push(`ErrorInfo reason ${JSON.stringify(s.reason)} is not an ErrorReason of the "${ERROR_DOMAIN}" domain`);
  const violations = o.badRequests.flatMap((b) => b.fieldViolations);
  if (s.field !== "" && o.code === Code.InvalidArgument) {
    if (o.badRequests.length !== 1 || violations.length !== 1) {
      problems.push(`${o.badRequests.length} google.rpc.BadRequest details with ${violations.length} field violations instead of one with exactly one for field ${JSON.stringify(s.field)}`);
    } else {
      const v = violations[0]!;
      if (v.field !== s.field) problems.push(`BadRequest violation field ${JSON.stringify(v.field)} differs from ErrorInfo field ${JSON.stringify(s.field)}`);
      if (v.reason !== s.reason) problems.push(`BadRequest violation reason ${JSON.stringify(v.reason)} differs from ${s.reason}`);
      if (v.description === "") problems.push("BadRequest violation without a description");
    }
  }
  if (s.domain === ERROR_DOMAIN) {
    const retryable = retryableReasons.includes(s.reason);
    const delay = o.retryInfos[0]?.retryDelay;
    if (retryable && (o.retryInfos.length !== 1 || !delay || Number(delay.seconds) * 1000 + delay.nanos / 1e6 < 1)) {
      problems.push(`${s.reason} without a google.rpc.RetryInfo retry_delay of at least 1 ms`);
    }
    if (!retryable && o.retryInfos.length > 0) problems.push(`a google.rpc.RetryInfo on ${s.reason}, which is not retryable`);
  }
  return problems;
}

/**
 * Checks that an observed error has the expected code and exactly one well-formed narrowcast
 * ErrorInfo with the expected reason (and field / ids when given), with BadRequest and RetryInfo
 * where ERR-5 requires them. Throws CheckFailure otherwise; returns the ErrorInfo read back.
 */
export function checkError(o: ObservedError, code: Code, reason: ErrorReason | string, opts: ExpectedError = {}, what = "call"): ErrorSummary {
  const name = reasonName(reason);
  const expected = describeExpected(code, name, opts);
  const actual = describeObserved(o);
  const info = o.infos.length === 1 ? summarizeInfo(o.infos[0]!) : undefined;
  const ok =
    o.code === code &&
    info !== undefined &&
    info.domain === ERROR_DOMAIN &&
    info.reason === name &&
    (opts.field === undefined || info.field === opts.field) &&
    (opts.ids === undefined || (info.ids.length === opts.ids.length && info.ids.every((id, i) => id === opts.ids![i])));
  if (!ok || !info) throw new CheckFailure(`${what} was rejected with the wrong error`, expected, actual);
  const problems = detailProblems(o);
  if (problems.length > 0) throw new CheckFailure(`${what}: the error details break ERR-5: ${problems.join("; ")}`, expected, actual);
  return info;
}

/**
 * Awaits a call that the spec says must be rejected, and checks the rejection.
 * Returns the ErrorInfo read back.
 */
export async function expectError(
  call: Promise<unknown>,
  code: Code,
  reason: ErrorReason | string,
  opts: ExpectedError & { what?: string } = {},
): Promise<ErrorSummary> {
  const what = opts.what ?? "call";
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    return checkError(observe(err), code, reason, opts, what);
  }
  throw new CheckFailure(`${what} was accepted but must be rejected`, describeExpected(code, reasonName(reason), opts), `success: ${summarize(result)}`);
}

/** The narrowcast reason of an observed error ("" when it has no single ErrorInfo). */
export function reasonOf(o: ObservedError): string {
  return o.infos.length === 1 ? o.infos[0]!.reason : "";
}

function summarize(value: unknown): string {
  try {
    const text = JSON.stringify(value, (k, v: unknown) => (k === "$typeName" ? undefined : typeof v === "bigint" ? Number(v) : v));
    return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(value);
  }
}
