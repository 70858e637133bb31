// Assertions used by conformance cases. A failed check throws CheckFailure, which carries the
// expectation and the observation separately so reports can print "expected … / actual …".

/** A violated expectation of the spec. */
export class CheckFailure extends Error {
  override name = "CheckFailure";
  constructor(
    message: string,
    readonly expected?: string,
    readonly actual?: string,
  ) {
    super(message);
  }
}

/**
 * Thrown by CaseContext.skip: the case cannot check its requirement against this server (e.g. a
 * declared limit is too large to reach in a test). Reported as skipped, never as passed or failed.
 */
export class SkipCase extends Error {
  override name = "SkipCase";
}

/** Fails the case unless `condition` holds. */
export function check(condition: unknown, message: string, expected?: string, actual?: string): asserts condition {
  if (!condition) throw new CheckFailure(message, expected, actual);
}

/** Fails the case unless `actual` and `expected` have the same canonical rendering. */
export function expectEqual<T>(actual: T, expected: T, what: string): void {
  const a = show(actual);
  const e = show(expected);
  if (a !== e) throw new CheckFailure(`${what}: unexpected value`, e, a);
}

/** Fails the case unconditionally. */
export function fail(message: string, expected?: string, actual?: string): never {
  throw new CheckFailure(message, expected, actual);
}

/** Milliseconds of a google.protobuf.Duration, or undefined when unset. */
export function durationMs(d: { seconds: bigint; nanos: number } | undefined): number | undefined {
  return d === undefined ? undefined : Number(d.seconds) * 1000 + d.nanos / 1e6;
}

/** Renders a value for reports: JSON with bigints as numbers and byte arrays in hex. */
export function show(value: unknown): string {
  if (value === undefined) return "undefined";
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === "$typeName") return undefined;
    if (typeof v === "bigint") return Number(v);
    if (v instanceof Uint8Array) return `bytes(${Buffer.from(v).toString("hex")})`;
    return v;
  });
}
