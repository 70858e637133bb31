// Known-failing and known-flaky lists: one pattern per line, "#" starts a comment. A run ID is
// "<protocol>/<codec>/<compression>/h<1.1|2>/<case ID>"; a pattern names the case ID last and, before
// it, as many of the leading cell segments as it wants to pin:
//   tgt-x                              the case in every cell
//   connect/tgt-x                      the case over Connect, any codec, compression, HTTP version
//   connect/json/tgt-x                 … and the JSON codec (likewise 4 segments add compression)
//   connect/json/gzip/h2/tgt-x         the case in that one cell
// "*" is a wildcard within a segment ("evt-*", "*/tgt-x"). Listed runs still run; see CaseStatus.
import { readFileSync } from "node:fs";

const MAX_SEGMENTS = 5;

/** Parses the text of a known-failing (or known-flaky) file into patterns; throws on a bad line. */
export function parseKnownFailing(text: string): string[] {
  const patterns = text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "");
  for (const p of patterns) {
    const segments = p.split("/");
    if (segments.length > MAX_SEGMENTS || segments.some((s) => s === "")) {
      throw new Error(`bad pattern ${JSON.stringify(p)}: expected [<protocol>/[<codec>/[<compression>/[h<version>/]]]]<case ID>`);
    }
  }
  return patterns;
}

/** Reads a known-failing (or known-flaky) file. */
export function readKnownFailing(path: string): string[] {
  return parseKnownFailing(readFileSync(path, "utf8"));
}

/** A list of run-ID patterns (known failing or known flaky). */
export class KnownFailing {
  private readonly patterns: { segments: number; regex: RegExp }[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((p) => {
      const segments = p.split("/");
      const body = segments.map((s) => s.split("*").map(escapeRegex).join("[^/]*")).join("/");
      return { segments: segments.length, regex: new RegExp(`^${body}$`) };
    });
  }

  /**
   * True when the run is listed. Takes a full run ID, or an older "<protocol>/<case ID>" or bare
   * case ID (then only patterns naming no more segments than it has can match).
   */
  matches(runId: string): boolean {
    const segments = runId.split("/");
    const caseId = segments[segments.length - 1]!;
    const cell = segments.slice(0, -1);
    return this.patterns.some((p) => p.segments - 1 <= cell.length && p.regex.test([...cell.slice(0, p.segments - 1), caseId].join("/")));
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
