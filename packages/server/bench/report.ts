// Output of the benchmark: plain-text tables on stdout and the full results as JSON.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Cell = string | number;

/** Formats a number for a table: integers with separators, others with `digits` decimals. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "-";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A left-aligned first column and right-aligned others. */
export function table(title: string, headers: string[], rows: Cell[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [title, line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line), ""].join("\n");
}

/** Writes `bench-<timestamp>.json` and `latest.json` into `dir`; returns the first path. */
export function writeResults(dir: string, results: { startedAt: string }): string {
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(results, null, 2) + "\n";
  const file = join(dir, `bench-${results.startedAt.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, json);
  writeFileSync(join(dir, "latest.json"), json);
  return file;
}
