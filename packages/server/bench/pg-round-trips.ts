// Counts PostgreSQL round trips made in this process: every pg Client.query call is one (the
// driver sends a statement and waits for its answer; BEGIN and COMMIT included), whichever pool
// made it. Each query is labelled with its statement's first words and main table, and with the
// Store method it ran in (set by `attributeStore`, through AsyncLocalStorage, so that concurrent
// requests do not mix).
import { AsyncLocalStorage } from "node:async_hooks";
import pg from "pg";
import type { Store } from "../src/store/types.js";

export interface RecordedQuery {
  /** e.g. "INSERT INTO events", "SELECT FROM group_members", "BEGIN". */
  label: string;
  /** The Store method the query ran in, or "-" outside any. */
  method: string;
  sql: string;
}

const storeMethod = new AsyncLocalStorage<string>();
const recorded: RecordedQuery[] = [];
/** Server process IDs of the connections whose queries were recorded (the store's pool). */
const backends = new Set<number>();
/** Clients of the bench itself (e.g. the lock sampler), whose queries are not counted. */
const uncounted = new WeakSet<pg.Client>();
let installed = false;

/**
 * A statement's kind and main table: "SELECT … FROM apps WHERE …" → "SELECT FROM apps",
 * "INSERT INTO events …" → "INSERT INTO events", "SELECT f($1)" → "SELECT f", "BEGIN" → "BEGIN".
 */
export function labelOf(sql: string): string {
  const text = sql.replace(/\s+/g, " ").trim();
  const verb = (/^\w+/.exec(text)?.[0] ?? "?").toUpperCase();
  const target = /\b(FROM|INTO|UPDATE) (\w+)/i.exec(text);
  if (target) return verb === target[1].toUpperCase() ? `${verb} ${target[2]}` : `${verb} ${target[1].toUpperCase()} ${target[2]}`;
  const call = /^\w+ (\w+)\(/.exec(text);
  return call ? `${verb} ${call[1]}` : verb;
}

/** Wraps pg's Client.prototype.query once per process; every later query is recorded. */
export function installQueryCounter(): void {
  if (installed) return;
  installed = true;
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    if (uncounted.has(this)) return original.apply(this, args);
    const pid = (this as unknown as { processID?: number }).processID;
    if (pid) backends.add(pid);
    const first = args[0] as string | { text?: string } | undefined;
    const sql = typeof first === "string" ? first : (first?.text ?? "");
    recorded.push({ label: labelOf(sql), method: storeMethod.getStore() ?? "-", sql });
    return original.apply(this, args);
  };
}

/** Leaves `client`'s queries out of the count. */
export function doNotCount(client: pg.Client): void {
  uncounted.add(client);
}

/** The server process IDs of the connections seen so far. */
export function backendPids(): number[] {
  return [...backends];
}

/** How many queries have been recorded so far (a mark to slice from). */
export function queryMark(): number {
  return recorded.length;
}

/** The queries recorded since `mark`. */
export function queriesSince(mark: number): RecordedQuery[] {
  return recorded.slice(mark);
}

/** Forgets what was recorded (marks taken before are invalid afterwards). */
export function clearQueries(): void {
  recorded.length = 0;
}

/** A Store whose every method runs with its name as the attribution of the queries it makes. */
export function attributeStore(store: Store): Store {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      return (...args: unknown[]) => storeMethod.run(prop, () => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}
