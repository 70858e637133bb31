// Rule IDs and areas of docs/spec.md, for coverage and the per-area summary.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Human names of the rule areas, in the spec's order. */
export const ruleAreas: Readonly<Record<string, string>> = {
  WIRE: "Wire protocols",
  SRV: "Server information",
  AUTH: "Authentication and isolation",
  ERR: "Errors",
  ADM: "Admin API",
  GRP: "Groups",
  VIS: "Visibility",
  DRV: "Derived items",
  MSG: "Messages",
  EDT: "Edits",
  RCT: "Reactions",
  RPL: "Quote replies",
  RCP: "Read receipts",
  PAG: "Pagination",
  TGT: "Targeted messages",
  UNR: "Unread counts and mentions",
  CNV: "Conversations",
  EVT: "Live events",
  HOOK: "App backends",
};

/** The area prefix of a rule ID: "TGT-4" → "TGT". */
export function ruleArea(ruleId: string): string {
  return ruleId.slice(0, ruleId.lastIndexOf("-"));
}

/** The spec of this repository (conformance/../docs/spec.md), when the suite runs from a checkout. */
export const defaultSpecPath = fileURLToPath(new URL("../../docs/spec.md", import.meta.url));

// A rule is defined where its ID starts a line, possibly after a list marker, a table pipe or a
// heading mark: bold or code ("- **TGT-4** …", "`TGT-4` …") always counts; a plain or bracketed
// ID counts when punctuation or a capitalised word follows ("- TGT-4: …", "| TGT-4 | …",
// "### TGT-4 — …"). An HTML anchor (<a id="TGT-4"></a>) also counts.
const prefix = String.raw`^\s*(?:[-*+]\s+|\d+\.\s+|\|\s*|#{1,6}\s+|>\s*)?(?:<a\s+(?:id|name)="[^"]*"\s*>\s*<\/a>\s*)?`;
const id = String.raw`([A-Z]{2,5}-\d+)`;
const emphasised = new RegExp(`${prefix}(?:\\*\\*|__)\\[?${id}\\]?(?:\\*\\*|__)|${prefix}\`${id}\``);
const plain = new RegExp(`${prefix}\\[?${id}\\]?(?=\\s*(?:[:|.\u2014\u2013(]|-\\s|$)|\\s+[A-Z])`);
const anchor = /^\s*<a\s+(?:id|name)="([A-Z]{2,5}-\d+)"/;
const mention = /\b([A-Z]{2,5})-(\d+)\b/g;

/** Parses the rule IDs a spec text defines, in order of first definition. */
export function parseRuleIds(specText: string): string[] {
  const ids = new Set<string>();
  for (const line of specLines(specText)) {
    const m = emphasised.exec(line);
    const found = m?.[1] ?? m?.[2] ?? plain.exec(line)?.[1] ?? anchor.exec(line)?.[1];
    if (found) ids.add(found);
  }
  return [...ids];
}

/**
 * Rule IDs the spec mentions anywhere (outside code blocks) with the prefix of a defined rule:
 * a cross-reference to an ID that parseRuleIds did not find means a rule the parser missed, or a
 * dangling reference.
 */
export function mentionedRuleIds(specText: string): string[] {
  const prefixes = new Set(parseRuleIds(specText).map(ruleArea));
  const ids = new Set<string>();
  for (const line of specLines(specText)) {
    for (const m of line.matchAll(mention)) if (prefixes.has(m[1]!)) ids.add(`${m[1]}-${m[2]}`);
  }
  return [...ids];
}

function* specLines(specText: string): Generator<string> {
  let fenced = false;
  for (const line of specText.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) yield line;
  }
}

/** Reads and parses a spec file. */
export function readRuleIds(specPath = defaultSpecPath): string[] {
  return parseRuleIds(readFileSync(specPath, "utf8"));
}
