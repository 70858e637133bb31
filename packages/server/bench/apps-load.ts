// One throughput phase of the apps-ceiling bench: S senders, each with its own HTTP/2 connection
// and `inflight / S` sends in flight, for a fixed time. Sender i always sends to group i; the
// phase decides in which app: "one-app" keeps every send in app 0, "spread" sends each next send
// of a sender to the next app (all apps in turn), so the same load lands on every app, and
// "pinned" keeps sender i in app i × apps / senders (one app per sender), so that each group sees
// as many concurrent sends as in "one-app" and only the app differs.
import { randomUUID } from "node:crypto";
import { now } from "./stats.js";
import { queriesSince, queryMark } from "./pg-round-trips.js";
import { ownerOf, receiversOf, type Connection, type World } from "./apps-setup.js";
import type { LockWaits, LockWaitSampler } from "./pg-lock-waits.js";

export type Placement = "one-app" | "spread" | "pinned";
export type SendKind = "ordinary" | "targeted";

export interface PhaseOptions {
  placement: Placement;
  kind: SendKind;
  senders: number;
  inflight: number;
  seconds: number;
}

export interface PhaseResult {
  placement: Placement;
  sends: number;
  seconds: number;
  sendsPerSecond: number;
  errors: number;
  firstError?: string;
  /** PostgreSQL queries per completed send during the phase (all of them, retries included). */
  queriesPerSend: number;
  /** ROLLBACKs during the phase: transactions retried (deadlock, serialization) or failed. */
  rollbacks: number;
  /** The store's connections waiting on locks during the phase. */
  lockWaits?: LockWaits;
}

/** The request of sender `group`'s next send (a fresh client message ID, as the SDK sets one). */
export function sendRequest(group: string, groupIndex: number, kind: SendKind) {
  return {
    groupId: group,
    clientMessageId: randomUUID(),
    elements: [{ element: { case: "text" as const, value: { text: "x".repeat(100) } } }],
    receiverIds: kind === "targeted" ? receiversOf(groupIndex) : [],
  };
}

export async function runPhase(
  world: World,
  connections: readonly Connection[],
  o: PhaseOptions,
  sampler?: LockWaitSampler,
): Promise<PhaseResult> {
  const perSender = Math.max(1, Math.round(o.inflight / o.senders));
  const apps = world.apps;
  // Tokens are minted before the clock starts.
  const calls = await Promise.all(
    Array.from({ length: o.senders }, (_, i) => Promise.all(apps.map((app) => world.as(app, ownerOf(i))))),
  );
  let sends = 0;
  let completed = 0; // sends that finished, also after the end (the queries of all of them are counted)
  let errors = 0;
  let firstError: string | undefined;
  const mark = queryMark();
  sampler?.start();
  const start = now();
  const end = start + o.seconds * 1000;
  const sender = async (i: number) => {
    let next = i; // each sender starts at a different app
    const loop = async () => {
      while (now() < end) {
        const a =
          o.placement === "one-app" ? 0 : o.placement === "pinned" ? Math.floor((i * apps.length) / o.senders) : next++ % apps.length;
        try {
          await connections[i].messages.sendMessage(sendRequest(apps[a].groups[i], i, o.kind), calls[i][a]);
          completed++;
          if (now() <= end) sends++;
        } catch (err) {
          errors++;
          firstError ??= String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: perSender }, loop));
  };
  await Promise.all(Array.from({ length: o.senders }, (_, i) => sender(i)));
  const lockWaits = sampler?.stop();
  const seconds = o.seconds;
  const queries = queriesSince(mark);
  return {
    placement: o.placement,
    sends,
    seconds,
    sendsPerSecond: sends / seconds,
    errors,
    firstError,
    queriesPerSend: completed ? queries.length / completed : 0,
    rollbacks: queries.filter((q) => q.label === "ROLLBACK").length,
    lockWaits,
  };
}
