// The wire matrix: protocol × codec × compression × HTTP version. Plans which case runs in which
// cell — every case in every cell ("full"), or every case once per protocol with the other
// dimensions rotating across the cases ("covering").
import type { ConformanceCase } from "./case.js";
import { protocolSupports, protocols as allProtocols, type HttpVersion, type Protocol } from "./transport.js";

export const codecs = ["binary", "json"] as const;
export type Codec = (typeof codecs)[number];
export const compressions = ["identity", "gzip"] as const;
export type Compression = (typeof compressions)[number];
/** HTTP/2 first: cell 0 of a protocol is binary / identity / HTTP/2, the suite's historical default. */
export const httpVersions = ["2", "1.1"] as const satisfies readonly HttpVersion[];
export const matrixModes = ["covering", "full"] as const;
export type MatrixMode = (typeof matrixModes)[number];

/** One combination of wire choices every run of a case uses. */
export interface Cell {
  protocol: Protocol;
  codec: Codec;
  compression: Compression;
  httpVersion: HttpVersion;
}

/** "<protocol>/<codec>/<compression>/h<1.1|2>", the prefix of a run ID. */
export function cellId(cell: Cell): string {
  return `${cell.protocol}/${cell.codec}/${cell.compression}/h${cell.httpVersion}`;
}

/** "<protocol>/<codec>/<compression>/h<1.1|2>/<case ID>". */
export function runId(cell: Cell, caseId: string): string {
  return `${cellId(cell)}/${caseId}`;
}

/**
 * The valid cells of the selected dimensions, grouped by protocol in the order of `protocols`,
 * codec varying fastest, then compression, then HTTP version. gRPC over HTTP/1.1 is dropped with
 * a note (gRPC needs HTTP/2); a protocol left with no cell is dropped with a note too.
 */
export function planCells(selection: {
  protocols: readonly Protocol[];
  codecs: readonly Codec[];
  compressions: readonly Compression[];
  httpVersions: readonly HttpVersion[];
}): { cells: Cell[]; notes: string[] } {
  const cells: Cell[] = [];
  const notes: string[] = [];
  // Keep the canonical order whatever order the caller listed values in, so plans reproduce.
  const ordered = <T>(all: readonly T[], chosen: readonly T[]) => all.filter((v) => chosen.includes(v));
  const versions = ordered(httpVersions, selection.httpVersions);
  for (const protocol of ordered(allProtocols, selection.protocols)) {
    const usable = versions.filter((v) => protocolSupports(protocol, v));
    if (usable.length === 0) {
      notes.push(`${protocol} skipped: it needs HTTP/2 and only HTTP/${versions.join(", ")} was chosen`);
      continue;
    }
    if (usable.length < versions.length) notes.push(`${protocol} over HTTP/1.1 dropped: it needs HTTP/2`);
    for (const httpVersion of usable)
      for (const compression of ordered(compressions, selection.compressions))
        for (const codec of ordered(codecs, selection.codecs)) cells.push({ protocol, codec, compression, httpVersion });
  }
  return { cells, notes };
}

export interface PlannedRun {
  cell: Cell;
  c: ConformanceCase;
}

/**
 * The runs of the suite, protocol by protocol. full: every case in every cell of its protocol.
 * covering: each case once per protocol; the case at position i of the protocol's list goes to
 * the protocol's cell (i + offset) mod cells, the offset being the protocol's position in the
 * protocol list — cells are codec-fastest, so consecutive cases alternate codec and compression,
 * a case lands on different codecs/compressions over different protocols, and every cell gets
 * every n-th case of the list, hence cases from every rule area (the list is grouped by area).
 */
export function planRuns(cells: readonly Cell[], casesFor: (protocol: Protocol) => readonly ConformanceCase[], mode: MatrixMode): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const protocol of allProtocols) {
    const own = cells.filter((cell) => cell.protocol === protocol);
    if (own.length === 0) continue;
    const cases = casesFor(protocol);
    if (mode === "full") {
      for (const cell of own) for (const c of cases) runs.push({ cell, c });
      continue;
    }
    const offset = allProtocols.indexOf(protocol);
    cases.forEach((c, i) => runs.push({ cell: own[(i + offset) % own.length]!, c }));
  }
  return runs;
}

/**
 * The order to start the runs in (indexes into `runs`): each protocol's runs spread evenly over
 * the whole run, the protocols staggered by a fraction of their list. The slow cases (the live
 * event ones, last in the case list) then start at different times instead of all at the end,
 * where they would make a long tail. Only the order changes, never which run goes to which cell.
 */
export function executionOrder(runs: readonly PlannedRun[]): number[] {
  const byProtocol = new Map<Protocol, number[]>();
  runs.forEach((r, index) => byProtocol.set(r.cell.protocol, [...(byProtocol.get(r.cell.protocol) ?? []), index]));
  const groups = [...byProtocol.values()];
  const keyed = groups.flatMap((indexes, k) => {
    const shift = Math.round((k * indexes.length) / groups.length);
    return indexes.map((index, i) => ({ index, key: ((i + shift) % indexes.length) / indexes.length }));
  });
  return keyed.sort((a, b) => a.key - b.key || a.index - b.index).map((k) => k.index);
}

/** Parses a comma-separated list of allowed values, or "all"; throws with the allowed values. */
export function parseList<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  if (value.trim() === "all") return [...allowed];
  const chosen = value.split(",").map((v) => v.trim()).filter((v) => v !== "");
  if (chosen.length === 0) throw new Error(`no ${what} given (${allowed.join(", ")} or all)`);
  for (const v of chosen) if (!(allowed as readonly string[]).includes(v)) throw new Error(`unknown ${what} ${JSON.stringify(v)} (${allowed.join(", ")} or all)`);
  return [...new Set(chosen)] as T[];
}
