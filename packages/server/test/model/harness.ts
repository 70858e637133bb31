// One model run: start the servers, generate (or replay) operations from the seed, execute and
// check each, sweep every K steps and at the end, and report — with the seed, the last
// operations and a minimal diff — on the first disagreement.
import type { Store } from "@narrowcast/server";
import { Checker } from "./checker.js";
import { Driver, NO_TOLERANCES, type Tolerances } from "./driver.js";
import { startEnv, type ConfigName } from "./env.js";
import { ModelFailure } from "./failure.js";
import { Generator } from "./generator.js";
import { Model, type MessageModel } from "./model.js";
import { describeOp, isReactionOp, type Op } from "./ops.js";
import { Prng } from "./prng.js";

export const USERS = ["u1", "u2", "u3", "u4", "u5", "u6"] as const;
/** A WORK group of every user that no generated operation touches (see `barrier`). */
export const BARRIER_GROUP = "g0";

export interface RunOptions {
  config: ConfigName;
  seed: number;
  ops: number;
  /** Full sweep every this many steps (and at the end). */
  sweepEvery?: number;
  tolerate?: Tolerances;
  /** Check every user (not only the step's group's members) every this many steps; 1 = always. */
  everyUser?: number;
  /** Replay exactly these operations instead of generating (used by shrinking). */
  script?: Op[];
  log?: (line: string) => void;
  /** The server's wrapStore test hook (a deliberately broken store). */
  wrapStore?: (store: Store) => Store;
}

export interface RunResult {
  ok: boolean;
  steps: number;
  elapsedMs: number;
  ops: Op[];
  failure?: ModelFailure | Error;
  failedAt?: number;
  report?: string;
  /** Per op kind, "ok/rejected" counts of the calls whose outcome the model checked. */
  stats?: Record<string, string>;
  /** Per op kind, how many calls were rejected with each reason. */
  rejections?: Record<string, Record<string, number>>;
  /** Per op kind, how many accepted calls changed nothing (RCT-3). */
  unchanged?: Record<string, number>;
}

export async function runModel(opts: RunOptions): Promise<RunResult> {
  const env = await startEnv(opts.config, opts.wrapStore);
  const model = new Model(USERS);
  const opRng = new Prng(opts.seed);
  const driver = new Driver(env, model, new Prng(opts.seed ^ 0x5bd1e995), opts.tolerate ?? NO_TOLERANCES);
  const checker = new Checker(driver);
  const gen = new Generator(opRng, model, () => driver.openStreams());
  const done: Op[] = [];
  const sweepEvery = opts.sweepEvery ?? 200;
  const everyUser = opts.everyUser ?? 5;
  const started = Date.now();
  let swept = 0; // messages already swept
  const sweptGroups = new Set<string>();
  let step = 0;
  const phases = { op: 0, streams: 0, conversations: 0, history: 0, get: 0, sweep: 0 };
  try {
    await driver.setup();
    // The barrier group: every user is a member for the whole run; a marker message in it tells
    // that each stream has taken everything sent before (used before a stream is closed and at
    // the end, so an extra event that arrives late is still seen).
    await driver.execute({ kind: "createGroup", by: { admin: true }, group: BARRIER_GROUP, type: "WORK", owner: "", members: [...USERS] });
    let markers = 0;
    const barrier = async () => {
      const spec = { text: `barrier${++markers}`, receivers: [], mentions: [], mentionAll: false, onlineOnly: false, excludeFromUnread: true, excludeFromLastMessage: true, countAsUnreadForReceivers: false, priority: "UNSPECIFIED" as const, clientMessageId: "" };
      await driver.execute({ kind: "send", by: { admin: true }, sender: "", group: BARRIER_GROUP, msg: spec.text, spec });
      await checker.streams();
    };
    const script = opts.script;
    const queue: Op[] = script ? [...script] : gen.initial();
    const total = script ? script.length : opts.ops;
    for (step = 0; step < total; step++) {
      const op = queue.shift() ?? gen.next();
      done.push(op);
      // Most steps move the servers' clock a little, so server times differ (CNV-1 order); every
      // third does not, so that conversations also tie on activity and order by group_id.
      if (step % 3 !== 0) model.clockMs += 10;
      env.setClock(model.clockMs);
      if (op.kind === "closeStream" || op.kind === "deleteUser") await barrier();
      const t0 = performance.now();
      const before = involved(model, op);
      const ran = await driver.execute(op);
      if (!ran) continue;
      const t1 = performance.now();
      await checker.streams();
      const t2 = performance.now();
      // Every user every `everyUser` steps; otherwise the users the step can have changed anything
      // for (members of the touched group before or after it): the model's state of the others
      // did not change, and the next full pass re-checks them.
      const all = step % everyUser === 0;
      const users = all ? USERS : [...new Set([...before, ...involved(model, op)])];
      await checker.conversations(users);
      const t3 = performance.now();
      const g = driver.touchedGroup;
      if (g && model.groups.has(g)) await checker.history(g, false, users);
      const membership = ["createGroup", "invite", "join", "approve", "leave", "remove", "setRole"];
      if (g && model.groups.has(g) && membership.includes(op.kind)) await checker.members(g);
      if (g && model.groups.has(g) && (op.kind === "join" || op.kind === "approve" || op.kind === "reject")) await checker.joinRequests(g);
      const t4 = performance.now();
      if (driver.touchedMessage) await checker.getMessage(driver.touchedMessage, users);
      // ListReactions after a reaction, or after a recall that took them away (RCT-6, RCT-8).
      if (driver.touchedMessage?.reacted && (isReactionOp(op) || op.kind === "recall")) await checker.reactions(driver.touchedMessage, users);
      // A send asking for receipts, and the messages an acknowledgement named: their counts for
      // every user by GetMessage and ListReadReceipts (RCP-2, RCP-4).
      if (driver.touchedMessage?.receipts && op.kind === "send") await checker.readReceipts(driver.touchedMessage, users);
      for (const acked of driver.touchedAcked) {
        await checker.getMessage(acked, users);
        await checker.readReceipts(acked, users);
      }
      const t5 = performance.now();
      phases.op += t1 - t0;
      phases.streams += t2 - t1;
      phases.conversations += t3 - t2;
      phases.history += t4 - t3;
      phases.get += t5 - t4;
      if ((step + 1) % sweepEvery === 0) {
        const all = [...model.messages.values()];
        // Messages since the last sweep, plus a sample of older ones (the final sweep takes all).
        const older = all.slice(0, swept);
        const sample: MessageModel[] = [];
        for (let i = 0; i < Math.min(200, older.length); i++) sample.push(older[driver.rng.int(older.length)]!);
        const ts = performance.now();
        await checker.sweep(liveGroups(model, sweptGroups), [...all.slice(swept), ...sample]);
        phases.sweep += performance.now() - ts;
        swept = all.length;
      }
    }
    await barrier();
    await checker.conversations();
    await checker.sweep([...model.groups.keys()], [...model.messages.values()]);
    await barrier();
    if (process.env.MODEL_PHASES) console.log("phase ms", Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v)])));
    const stats = Object.fromEntries([...driver.stats].map(([k, v]) => [k, `${v.ok}/${v.rejected}`]));
    const rejections = Object.fromEntries([...driver.rejections].map(([k, v]) => [k, Object.fromEntries(v)]));
    const unchanged = Object.fromEntries(driver.unchanged);
    return { ok: true, steps: step, elapsedMs: Date.now() - started, ops: done, stats, rejections, unchanged };
  } catch (err) {
    const failure = err instanceof Error ? err : new Error(String(err));
    return { ok: false, steps: step, elapsedMs: Date.now() - started, ops: done, failure, failedAt: step, report: report(opts, failure, done) };
  } finally {
    driver.close();
    await env.close();
  }
}

/** The users whose view an op can change: the members of its group, its actor and the users it names. */
function involved(model: Model, op: Op): string[] {
  const out = new Set<string>();
  const group = op.kind === "resend" ? model.messages.get(op.of)?.group : "group" in op ? op.group : undefined;
  const g = group ? model.groups.get(group) : undefined;
  if (g) for (const u of g.members.keys()) out.add(u);
  if ("user" in op) out.add(op.user);
  if ("by" in op && "user" in op.by) out.add(op.by.user);
  if ("users" in op) for (const u of op.users) out.add(u);
  if (op.kind === "createGroup") for (const u of [op.owner, ...op.members]) if (u) out.add(u);
  if (op.kind === "approve" || op.kind === "reject") out.add(op.applicant);
  if (op.kind === "setRole") out.add(op.target);
  if (op.kind === "deleteUser") {
    out.add(op.user);
    for (const g of model.groups.values()) if (g.members.has(op.user)) for (const u of g.members.keys()) out.add(u);
  }
  return [...out];
}

/** Live groups, plus dismissed ones not yet checked since their dismissal. */
function liveGroups(model: Model, sweptDismissed: Set<string>): string[] {
  const out: string[] = [];
  for (const g of model.groups.values()) {
    if (!g.dismissed) out.push(g.id);
    else if (!sweptDismissed.has(g.id)) {
      sweptDismissed.add(g.id);
      out.push(g.id);
    }
  }
  return out;
}

export function report(opts: RunOptions, failure: Error, ops: Op[]): string {
  const lines = [
    `MODEL FAILURE  config=${opts.config} seed=${opts.seed} step=${ops.length - 1}`,
    failure instanceof ModelFailure ? `rule ${failure.rule}: ${failure.what}` : `error: ${failure.stack ?? failure.message}`,
  ];
  if (failure instanceof ModelFailure) lines.push("diff (expected vs got):", failure.diff());
  lines.push(`last ${Math.min(30, ops.length)} operations:`);
  const from = Math.max(0, ops.length - 30);
  ops.slice(from).forEach((op, i) => lines.push(`  #${from + i} ${describeOp(op)}`));
  lines.push(`replay: npm run model -- --config ${opts.config} --seed ${opts.seed} --ops ${ops.length}`);
  return lines.join("\n");
}

/**
 * Delta debugging of a failing op list: drops chunks of operations while the run still fails
 * with the same rule. Stream-opening operations of the start are kept. Practical for short runs.
 */
export async function shrink(opts: RunOptions, ops: Op[], rule: string, budget = 60, log: (s: string) => void = () => {}): Promise<Op[]> {
  let current = ops;
  let chunk = Math.max(1, Math.floor(current.length / 2));
  let runs = 0;
  const fails = async (candidate: Op[]) => {
    runs++;
    const r = await runModel({ ...opts, script: candidate, sweepEvery: 1_000_000 });
    return !r.ok && r.failure instanceof ModelFailure && r.failure.rule === rule;
  };
  while (chunk >= 1 && runs < budget) {
    let removedAny = false;
    for (let i = USERS.length; i < current.length && runs < budget; ) {
      const candidate = [...current.slice(0, i), ...current.slice(i + chunk)];
      if (await fails(candidate)) {
        current = candidate;
        removedAny = true;
        log(`shrink: ${current.length} operations still fail`);
      } else i += chunk;
    }
    if (!removedAny) chunk = Math.floor(chunk / 2);
  }
  return current;
}
