// The known-failing list: one pattern per line ("connect/tgt-x", "tgt-x" for every protocol,
// "*" as a wildcard), "#" starts a comment. Listed cases still run; see CaseStatus.
import { readFileSync } from "node:fs";

/** Parses the text of a known-failing file into patterns. */
export function parseKnownFailing(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "");
}

/** Reads a known-failing file. */
export function readKnownFailing(path: string): string[] {
  return parseKnownFailing(readFileSync(path, "utf8"));
}

export class KnownFailing {
  private readonly patterns: RegExp[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((p) => {
      const body = p.split("*").map(escapeRegex).join(".*");
      // A pattern without a protocol applies to every protocol.
      return new RegExp(p.includes("/") ? `^${body}$` : `^(?:[^/]+/)?${body}$`);
    });
  }

  /** True when the "<protocol>/<case ID>" is listed. */
  matches(runId: string): boolean {
    return this.patterns.some((p) => p.test(runId));
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
