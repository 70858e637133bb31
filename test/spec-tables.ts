// Reads the machine-checkable parts of docs/spec.md — rule definitions, the RPC table and the error
// table — and cross-checks them against the generated descriptors of both packages (narrowcast.v1
// and narrowcast.admin.v1). Every check is a pure function
// from the spec's text to a list of problems, so that a test can also feed it a broken spec and
// see it complain (a check that cannot fail proves nothing).
import { readFileSync } from "node:fs";
import type { DescEnum, DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";

export const specPath = new URL("../docs/spec.md", import.meta.url);

export function readSpec(): string {
  return readFileSync(specPath, "utf8");
}

// A rule is defined by a list item that starts with its bold ID: "- **TGT-4** Only the ...".
// Its text runs until a heading, a table, the next top-level list item, or a blank line that is
// not followed by an indented line: indented lines (nested lists, and paragraphs after a blank
// line inside the item) belong to the rule, as Markdown renders them.
const ruleDefinitionLine = /^- \*\*([A-Z]+-\d+)\*\*(.*)$/;

export interface RuleDefinition {
  id: string;
  text: string;
}

export function ruleDefinitions(spec: string): RuleDefinition[] {
  const rules: RuleDefinition[] = [];
  let current: RuleDefinition | undefined;
  let afterBlank = false;
  for (const line of spec.split("\n")) {
    const match = ruleDefinitionLine.exec(line);
    if (match) {
      current = { id: match[1], text: match[2].trim() };
      rules.push(current);
      afterBlank = false;
    } else if (current && line.trim() === "") {
      afterBlank = true;
    } else if (current && (/^\s+\S/.test(line) || (!afterBlank && !/^(- |#|\|)/.test(line)))) {
      current.text += " " + line.trim();
      afterBlank = false;
    } else {
      current = undefined;
    }
  }
  return rules;
}

/** The body of the level-2 section whose heading matches `heading`, up to the next level-2 heading. */
export function section(spec: string, heading: RegExp): string | undefined {
  const lines = spec.split("\n");
  const start = lines.findIndex((line) => line.startsWith("## ") && heading.test(line));
  if (start < 0) return undefined;
  const end = lines.findIndex((line, i) => i > start && line.startsWith("## "));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

function tableCells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((cell) => cell.trim().replace(/`/g, ""));
}

function splitList(cell: string): string[] {
  return cell
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "" && item !== "—");
}

/** Expands "MSG-1 to MSG-10, MSG-15" into rule IDs. */
export function expandRuleList(cell: string): string[] {
  const ids: string[] = [];
  for (const item of splitList(cell)) {
    const range = /^([A-Z]+)-(\d+) to \1-(\d+)$/.exec(item);
    if (range) {
      for (let n = Number(range[2]); n <= Number(range[3]); n++) ids.push(`${range[1]}-${n}`);
    } else {
      ids.push(item);
    }
  }
  return ids;
}

export interface RpcRow {
  /** "MessageService.SendMessage" */
  rpc: string;
  service: string;
  method: string;
  kind: string;
  idempotency: string;
  rules: string[];
  errors: string[];
}

// RPC rows are the table rows that start with "| ServiceName.RpcName |".
const rpcRowLine = /^\|\s*`?([A-Z]\w*Service)\.([A-Z]\w*)`?\s*\|/;

export function rpcTable(spec: string): RpcRow[] {
  const body = section(spec, /RPC table/) ?? "";
  return body
    .split("\n")
    .filter((line) => rpcRowLine.test(line))
    .map((line) => {
      const [rpc, kind = "", idempotency = "", rules = "", errors = ""] = tableCells(line);
      const [service, method] = rpc.split(".");
      return { rpc, service, method, kind, idempotency, rules: expandRuleList(rules), errors: splitList(errors) };
    });
}

export interface ErrorRow {
  reason: string;
  codes: string[];
  rules: string[];
}

// Error rows are the rows of the error table whose first cell is an UPPER_SNAKE reason.
const errorRowLine = /^\|\s*`?[A-Z][A-Z0-9_]*`?\s*\|/;

export function errorTable(spec: string): ErrorRow[] {
  const body = section(spec, /Error table/) ?? "";
  const end = body.indexOf("\n### "); // sub-sections (status codes) are other tables
  return (end < 0 ? body : body.slice(0, end))
    .split("\n")
    .filter((line) => errorRowLine.test(line))
    .map((line) => {
      const [reason, codes = "", rules = ""] = tableCells(line);
      return { reason, codes: splitList(codes), rules: expandRuleList(rules) };
    });
}

/** ErrorReason names without the ERROR_REASON_ prefix, UNSPECIFIED excluded. */
export function reasonNames(errorReason: DescEnum): string[] {
  return errorReason.values
    .filter((value) => value.number !== 0)
    .map((value) => value.name.replace(/^ERROR_REASON_/, ""));
}

function duplicates(items: string[]): string[] {
  return [...new Set(items.filter((item, i) => items.indexOf(item) !== i))];
}

/** Rule IDs: well-formed, each defined once, every citation defined, every stable ID still there. */
export function checkRuleIds(spec: string, stableIds: readonly string[]): string[] {
  const problems: string[] = [];
  const ids = ruleDefinitions(spec).map((rule) => rule.id);
  if (ids.length === 0) problems.push("no rule definitions found");
  for (const id of duplicates(ids)) problems.push(`rule ${id} is defined more than once`);
  const defined = new Set(ids);
  for (const id of stableIds) if (!defined.has(id)) problems.push(`stable rule ${id} is no longer defined`);
  problems.push(...checkCitations(spec, defined, "docs/spec.md"));
  return problems;
}

/** Every "PREFIX-n" in `text` whose prefix is a rule prefix names a defined rule. */
export function checkCitations(text: string, defined: ReadonlySet<string>, where: string): string[] {
  const prefixes = new Set([...defined].map((id) => id.split("-")[0]));
  const problems = new Set<string>();
  for (const [citation, prefix] of text.matchAll(/\b([A-Z]+)-\d+\b/g)) {
    if (prefixes.has(prefix) && !defined.has(citation)) problems.add(`${where} cites undefined rule ${citation}`);
  }
  return [...problems];
}

/** Reasons any RPC that reads or writes state may return (rule ERR-6); the table's intro says so, rows do not list them. */
export const anyRpcReasons: readonly string[] = ["BACKEND_UNAVAILABLE"];

/** Services served without authentication (rule AUTH-7). */
export const unauthenticatedServices: readonly string[] = ["ServerService"];
const authErrors = ["TOKEN_MISSING", "TOKEN_INVALID", "TOKEN_EXPIRED", "ADMIN_KEY_INVALID"];

/** The RPC table and the generated services list the same RPCs, with the same kind and idempotency. */
export function checkRpcTable(spec: string, services: readonly DescService[], errorReason: DescEnum): string[] {
  const problems: string[] = [];
  const rows = rpcTable(spec);
  const reasons = new Set(reasonNames(errorReason));
  const rules = new Set(ruleDefinitions(spec).map((rule) => rule.id));
  for (const rpc of duplicates(rows.map((row) => row.rpc))) problems.push(`RPC table lists ${rpc} twice`);

  for (const row of rows) {
    const service = services.find((s) => s.name === row.service);
    const method = service?.methods.find((m) => m.name === row.method);
    if (!method) {
      problems.push(`RPC table lists ${row.rpc}, which the generated services do not have`);
      continue;
    }
    if (row.kind !== method.methodKind) problems.push(`${row.rpc}: kind "${row.kind}", generated "${method.methodKind}"`);
    const noSideEffects = method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
    if ((row.idempotency === "NO_SIDE_EFFECTS") !== noSideEffects) {
      problems.push(`${row.rpc}: idempotency "${row.idempotency}", generated ${MethodOptions_IdempotencyLevel[method.idempotency]}`);
    }
    if (row.rules.length === 0) problems.push(`${row.rpc}: no rules`);
    for (const rule of row.rules) if (!rules.has(rule)) problems.push(`${row.rpc}: undefined rule ${rule}`);
    for (const error of row.errors) if (!reasons.has(error)) problems.push(`${row.rpc}: "${error}" is not an ErrorReason`);

    // Authentication errors (AUTH-1, AUTH-4) and group-scoped errors (AUTH-5) must be listed;
    // ServerService needs no authentication (AUTH-7), so it must not list any.
    const required =
      row.service === "AdminService"
        ? ["ADMIN_KEY_INVALID"]
        : unauthenticatedServices.includes(row.service)
          ? []
          : ["TOKEN_MISSING", "TOKEN_INVALID", "TOKEN_EXPIRED"];
    if (unauthenticatedServices.includes(row.service)) {
      for (const error of row.errors) {
        if (authErrors.includes(error)) problems.push(`${row.rpc}: lists ${error}, but needs no authentication (AUTH-7)`);
      }
    }
    const groupScoped = method.input.fields.some((f) => f.name === "group_id") && row.method !== "CreateGroup";
    if (groupScoped) required.push("GROUP_NOT_FOUND");
    if (groupScoped && row.service !== "AdminService" && row.method !== "JoinGroup") required.push("NOT_A_MEMBER");
    for (const error of required) if (!row.errors.includes(error)) problems.push(`${row.rpc}: errors lack ${error}`);
  }

  for (const service of services) {
    for (const method of service.methods) {
      const rpc = `${service.name}.${method.name}`;
      if (!rows.some((row) => row.rpc === rpc)) problems.push(`RPC table has no row for ${rpc}`);
    }
  }

  const listed = new Set([...rows.flatMap((row) => row.errors), ...anyRpcReasons]);
  for (const reason of reasons) if (!listed.has(reason)) problems.push(`no RPC in the RPC table returns ${reason}`);
  return problems;
}

/**
 * The error table has one row per ErrorReason with valid status codes and defined rules, and agrees
 * with the rules' text: a rule that names a reason is listed in that reason's row (and vice versa),
 * and a "Code REASON" pair in a rule uses one of the row's codes.
 */
export function checkErrorTable(spec: string, errorReason: DescEnum, codeNames: readonly string[]): string[] {
  const problems: string[] = [];
  const rows = errorTable(spec);
  const reasons = reasonNames(errorReason);
  const definitions = ruleDefinitions(spec);
  const rules = new Set(definitions.map((rule) => rule.id));
  for (const reason of duplicates(rows.map((row) => row.reason))) problems.push(`error table lists ${reason} twice`);

  for (const reason of reasons) {
    if (!rows.some((row) => row.reason === reason)) problems.push(`error table has no row for ${reason}`);
  }
  for (const row of rows) {
    if (!reasons.includes(row.reason)) problems.push(`error table lists ${row.reason}, which is not an ErrorReason`);
    if (row.codes.length === 0) problems.push(`${row.reason}: no status code`);
    for (const code of row.codes) if (!codeNames.includes(code)) problems.push(`${row.reason}: "${code}" is not a Connect code name`);
    if (row.rules.length === 0) problems.push(`${row.reason}: no rules`);
    for (const rule of row.rules) if (!rules.has(rule)) problems.push(`${row.reason}: undefined rule ${rule}`);
  }

  const mentionPattern = new RegExp(`\\b(?:(${codeNames.join("|")})\\s+)?([A-Z][A-Z0-9_]*[A-Z0-9])\\b`, "g");
  for (const rule of definitions) {
    const mentioned = new Set<string>();
    for (const [, code, reason] of rule.text.matchAll(mentionPattern)) {
      if (!reasons.includes(reason)) continue;
      mentioned.add(reason);
      const row = rows.find((r) => r.reason === reason);
      if (!row) continue;
      if (!row.rules.includes(rule.id)) problems.push(`${rule.id} names ${reason}, but its error-table row does not cite ${rule.id}`);
      if (code && !row.codes.includes(code)) problems.push(`${rule.id} gives ${reason} code ${code}, the error table ${row.codes.join("/")}`);
    }
    for (const row of rows) {
      if (row.rules.includes(rule.id) && !mentioned.has(row.reason)) {
        problems.push(`error-table row ${row.reason} cites ${rule.id}, which does not name ${row.reason}`);
      }
    }
  }
  return problems;
}
