// Number parsers for the benchmarks' command-line options (commander).
import { InvalidArgumentError } from "commander";

/** A positive integer. */
export function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

/** A positive number. */
export function positive(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError("expected a positive number");
  return n;
}
