// One model run of app backends (HOOK-6, HOOK-7, HOOK-8, HOOK-13): a seeded random sequence of
// sends, recalls, membership changes, streams opening and closing and webhook changes, driven
// through the public API of one or more nodes, with a receiver that fails a share of attempts.
// After every step nothing may have arrived that the model does not expect; every few steps (and
// before every presence or configuration change, which must not race pending deliveries) the run
// waits until every expected delivery was answered 2xx and checks again after a short settle.
import { GroupType } from "@narrowcast/gen";
import { WebhookEventType } from "@narrowcast/gen/admin";
import type { AppBackendReceiver, ReceivedRequest } from "../app-backend-receiver.js";
import { ModelFailure } from "../model/failure.js";
import { Prng } from "../model/prng.js";
import { AppFixture, NEGATIVE_WAIT_MS, UserClient, type EventStream, type TestServer } from "../support.js";
import { DeliveryModel, joinedKey, leftKey, pushDetail, pushKey, receiversDetail, recalledKey, sentKey } from "./model.js";
import type { StoreProbe } from "./store-probe.js";

export interface Deployment {
  nodes: TestServer[];
  receiver: AppBackendReceiver;
  probe: StoreProbe;
}

export interface RunOptions {
  seed: number;
  steps: number;
  /** The share of attempts the receiver answers 503. */
  failRate?: number;
  /** Wait for quiescence and check fully every this many steps (and at the end). */
  quiesceEvery?: number;
  /** How long to wait for the expected deliveries before reporting them missing. */
  quiesceTimeoutMs?: number;
}

export interface RunResult {
  ok: boolean;
  report: string;
  failure?: Error;
  elapsedMs: number;
  /** Expected deliveries by type, and attempts the receiver got / failed. */
  stats: { expected: Record<string, number>; requests: number; failed: number; steps: number };
}

const USERS = ["u1", "u2", "u3", "u4", "u5", "u6"];
const GROUPS = ["g1", "g2"];
/** The types a random configuration picks from (GROUP_DISMISSED too: nothing here dismisses, so it must deliver nothing). */
const TYPES = [
  WebhookEventType.MESSAGE_SENT,
  WebhookEventType.MESSAGE_RECALLED,
  WebhookEventType.MEMBER_JOINED,
  WebhookEventType.MEMBER_LEFT,
  WebhookEventType.GROUP_DISMISSED,
  WebhookEventType.PUSH_REQUESTED,
];
/** Upper bound of one quiescence wait: with 20–80 ms retries and 50 attempts, far more than needed. */
const QUIESCE_TIMEOUT_MS = 20_000;
const POLL_MS = 20;

type OpKind = "send" | "targeted" | "onlineOnly" | "recall" | "add" | "remove" | "open" | "close" | "setWebhook" | "deleteWebhook";
const WEIGHTS: [OpKind, number][] = [
  ["send", 22],
  ["targeted", 16],
  ["onlineOnly", 6],
  ["recall", 10],
  ["add", 9],
  ["remove", 8],
  ["open", 10],
  ["close", 8],
  ["setWebhook", 7],
  ["deleteWebhook", 3],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runAppBackendsModel(d: Deployment, options: RunOptions): Promise<RunResult> {
  const run = new Run(d, options);
  const started = Date.now();
  let failure: Error | undefined;
  try {
    await run.setUp();
    for (run.step = 1; run.step <= options.steps; run.step++) {
      await run.randomOp();
      run.checkNothingUnexpected();
      if (run.step % (options.quiesceEvery ?? 5) === 0) await run.quiesce();
    }
    await run.quiesce();
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
  } finally {
    await run.tearDown();
  }
  const elapsedMs = Date.now() - started;
  return { ok: !failure, failure, elapsedMs, report: run.report(failure), stats: run.stats() };
}

class Run {
  step = 0;
  private readonly prng: Prng;
  /** Answers depend on arrival order, so they draw from a PRNG of their own: the operations stay a function of the seed. */
  private readonly answers: Prng;
  private readonly model = new DeliveryModel();
  private readonly log: string[] = [];
  private app!: AppFixture;
  private path = "";
  /** Each user's client on each node. */
  private readonly clients = new Map<string, UserClient[]>();
  private readonly streams = new Map<string, EventStream>();
  /** webhook-ids answered 2xx. */
  private readonly acked = new Set<string>();
  private requests = 0;
  private failed = 0;

  constructor(
    private readonly d: Deployment,
    private readonly options: RunOptions,
  ) {
    this.prng = new Prng(options.seed);
    this.answers = new Prng(options.seed ^ 0x5bd1e995);
  }

  private node(): number {
    return this.prng.int(this.d.nodes.length);
  }

  private admin() {
    return this.d.nodes[this.node()]!.admin("connect");
  }

  private user(id: string): UserClient {
    return this.clients.get(id)![this.node()]!;
  }

  private note(line: string): void {
    this.log.push(`#${this.step} ${line}`);
  }

  async setUp(): Promise<void> {
    this.app = await AppFixture.create(this.d.nodes[0]!, "connect", { users: USERS });
    this.path = `/${this.app.appId}`;
    for (const u of USERS) {
      const { token } = this.app.user(u);
      this.clients.set(u, this.d.nodes.map((n) => new UserClient(u, token, n.transport("connect", { token }))));
    }
    const failRate = this.options.failRate ?? 0.3;
    this.d.receiver.respond((r) => {
      if (!this.mine(r)) return undefined;
      this.requests++;
      if (this.answers.chance(failRate)) {
        this.failed++;
        return { status: 503 };
      }
      this.acked.add(r.headers["webhook-id"] ?? "");
      return undefined;
    });
    await this.setWebhook();
    for (const g of GROUPS) {
      const [owner, ...others] = this.prng.shuffle(USERS);
      const members = others.slice(0, 1 + this.prng.int(others.length));
      await this.app.admin.createGroup({ appId: this.app.appId, type: GroupType.WORK, name: g, groupId: g, ownerId: owner!, memberIds: members });
      this.model.createGroup(g, owner!, members);
      this.note(`createGroup ${g} owner=${owner} members=${members.join(",")}`);
    }
  }

  async tearDown(): Promise<void> {
    for (const s of this.streams.values()) s.close();
    this.d.receiver.respond(() => undefined);
    // Later runs share the receiver: this app's deliveries stop with its webhook.
    await this.app?.admin.deleteWebhook({ appId: this.app.appId }).catch(() => undefined);
  }

  private mine(r: ReceivedRequest): boolean {
    return r.path === this.path;
  }

  async randomOp(): Promise<void> {
    const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
    let x = this.prng.int(total);
    const kind = WEIGHTS.find(([, w]) => (x -= w) < 0)![0];
    switch (kind) {
      case "send":
      case "targeted":
      case "onlineOnly":
        return this.send(kind);
      case "recall":
        return this.recall();
      case "add":
        return this.add();
      case "remove":
        return this.remove();
      case "open":
        return this.open();
      case "close":
        return this.close();
      case "setWebhook":
        return this.setWebhook();
      case "deleteWebhook":
        return this.model.webhook ? this.deleteWebhook() : this.setWebhook();
    }
  }

  private async send(kind: "send" | "targeted" | "onlineOnly"): Promise<void> {
    const g = this.model.groups.get(this.prng.pick(GROUPS))!;
    const sender = this.prng.pick([...g.members].sort());
    const others = [...g.members].filter((m) => m !== sender).sort();
    const receivers = kind === "targeted" && others.length > 0 ? this.prng.subset(others, 0.5).slice(0, 3) : [];
    if (kind === "targeted" && receivers.length === 0 && others.length > 0) receivers.push(this.prng.pick(others));
    const onlineOnly = kind === "onlineOnly";
    this.note(`${kind} ${g.id} by ${sender}${receivers.length ? ` to ${receivers.join(",")}` : ""} (online: ${[...this.model.online].sort().join(",")})`);
    const message = await this.user(sender).send(g.id, `step ${this.step}`, { receiverIds: receivers, onlineOnly });
    this.log[this.log.length - 1] += ` -> ${message.messageId}`;
    this.model.send({ id: message.messageId, group: g.id, sender, receivers, stored: !onlineOnly });
  }

  private async recall(): Promise<void> {
    const candidates = [...this.model.messages.values()].filter((m) => m.stored && !m.recalled);
    if (candidates.length === 0) return this.send("send");
    const m = this.prng.pick(candidates);
    // A message recalled before its push requests are prepared gets none (HOOK-13): let every
    // fanout settle first, so the model's push expectations stay exact.
    await this.waitFor(
      () => this.d.probe.fanoutsSettled(this.app.appId) >= this.model.fanouts,
      () => new ModelFailure("HOOK-13", "push requests of stored messages never worked out", this.model.fanouts, this.d.probe.fanoutsSettled(this.app.appId)),
    );
    // The sender recalls within the recall window (MSG-11) while they still see it; otherwise an admin does (ADM-6).
    if (this.model.senderStillSees(m) && this.prng.chance(0.5)) {
      this.note(`recall ${m.id} by ${m.sender}`);
      await this.user(m.sender).messages.recallMessage({ groupId: m.group, messageId: m.id });
    } else {
      this.note(`recall ${m.id} by admin`);
      await this.admin().recallMessage({ appId: this.app.appId, groupId: m.group, messageId: m.id });
    }
    this.model.recall(m.id);
  }

  private async add(): Promise<void> {
    const g = this.model.groups.get(this.prng.pick(GROUPS))!;
    const outside = USERS.filter((u) => !g.members.has(u));
    if (outside.length === 0) return this.remove();
    const users = this.prng.subset(outside, 0.5);
    if (users.length === 0) users.push(this.prng.pick(outside));
    this.note(`add ${users.join(",")} to ${g.id}`);
    await this.admin().addMembers({ appId: this.app.appId, groupId: g.id, userIds: users });
    for (const u of users) this.model.join(g.id, u);
  }

  private async remove(): Promise<void> {
    const g = this.model.groups.get(this.prng.pick(GROUPS))!;
    // The owner stays, so every group keeps a member to send.
    const removable = [...g.members].filter((u) => u !== g.owner).sort();
    if (removable.length === 0) return this.add();
    const user = this.prng.pick(removable);
    this.note(`remove ${user} from ${g.id}`);
    await this.admin().removeMembers({ appId: this.app.appId, groupId: g.id, userIds: [user] });
    this.model.leave(g.id, user);
  }

  private async open(): Promise<void> {
    const offline = USERS.filter((u) => !this.model.online.has(u));
    if (offline.length === 0) return this.close();
    const user = this.prng.pick(offline);
    const node = this.node();
    // A fanout still pending would see the user online although the message was sent before.
    await this.quiesce();
    this.note(`open stream of ${user} on node ${node}`);
    const stream = await this.clients.get(user)![node]!.subscribe();
    this.streams.set(user, stream);
    this.model.online.add(user);
  }

  private async close(): Promise<void> {
    const online = [...this.model.online].sort();
    if (online.length === 0) return this.open();
    const user = this.prng.pick(online);
    await this.quiesce();
    this.note(`close stream of ${user}`);
    this.streams.get(user)!.close();
    this.streams.delete(user);
    // The server marks the user offline in the background: wait for it, not for a time.
    await this.waitFor(async () => !(await this.d.probe.online(this.app.appId, user)), () => new Error(`${user} still online in the store after closing the stream`));
    this.model.online.delete(user);
  }

  private async setWebhook(): Promise<void> {
    if (this.model.webhook) await this.quiesce();
    const types = this.prng.subset(TYPES, 0.7);
    this.note(`setWebhook [${types.map((t) => WebhookEventType[t]).join(",")}]`);
    await this.admin().setWebhook({ appId: this.app.appId, webhook: { url: this.d.receiver.url(this.path), eventTypes: types } });
    this.model.setWebhook(types);
  }

  private async deleteWebhook(): Promise<void> {
    // Pending deliveries go with the webhook (HOOK-2): deliver what is due first, so the model stays exact.
    await this.quiesce();
    this.note("deleteWebhook");
    await this.admin().deleteWebhook({ appId: this.app.appId });
    this.model.deleteWebhook();
  }

  private async waitFor(condition: () => boolean | Promise<boolean>, failure: () => Error): Promise<void> {
    const deadline = Date.now() + (this.options.quiesceTimeoutMs ?? QUIESCE_TIMEOUT_MS);
    while (!(await condition())) {
      if (Date.now() > deadline) throw failure();
      await sleep(POLL_MS);
    }
  }

  /** The expected deliveries not yet answered 2xx (as many distinct webhook-ids as the model expects). */
  private missing(): string[] {
    const ackedByKey = new Map<string, Set<string>>();
    const attemptsByKey = new Map<string, number>();
    for (const r of this.d.receiver.requests) {
      if (!this.mine(r)) continue;
      const id = r.headers["webhook-id"] ?? "";
      const key = classify(r).key;
      attemptsByKey.set(key, (attemptsByKey.get(key) ?? 0) + 1);
      if (!this.acked.has(id)) continue;
      let ids = ackedByKey.get(key);
      if (!ids) ackedByKey.set(key, (ids = new Set()));
      ids.add(id);
    }
    const out: string[] = [];
    for (const [key, e] of this.model.expected) {
      const got = ackedByKey.get(key)?.size ?? 0;
      if (got < e.count) out.push(`${key} (${got}/${e.count} answered 2xx after ${attemptsByKey.get(key) ?? 0} attempts; ${e.rule}, HOOK-8)`);
    }
    return out;
  }

  /** Waits until every expected delivery was answered 2xx and every push fanout settled, lets stragglers come, and checks. */
  async quiesce(): Promise<void> {
    await this.waitFor(
      () => this.missing().length === 0 && this.d.probe.fanoutsSettled(this.app.appId) >= this.model.fanouts,
      () => {
        const missing = this.missing();
        if (missing.length === 0) return new ModelFailure("HOOK-13", "push requests of stored messages never worked out", this.model.fanouts, this.d.probe.fanoutsSettled(this.app.appId));
        const rule = missing[0]!.includes("HOOK-13") ? "HOOK-13" : "HOOK-6";
        return new ModelFailure(rule, `expected deliveries never arrived (answered 2xx) within ${this.options.quiesceTimeoutMs ?? QUIESCE_TIMEOUT_MS} ms`, missing, []);
      },
    );
    await sleep(NEGATIVE_WAIT_MS);
    this.checkNothingUnexpected();
  }

  /**
   * Every delivery so far: one body per webhook-id (HOOK-7), the content the model says, and no
   * more distinct deliveries of a key than the model expects (HOOK-6, HOOK-13, HOOK-2).
   */
  checkNothingUnexpected(): void {
    const bodies = new Map<string, string>();
    const idsByKey = new Map<string, Set<string>>();
    for (const r of this.d.receiver.requests) {
      if (!this.mine(r)) continue;
      const id = r.headers["webhook-id"] ?? "";
      const seen = bodies.get(id);
      if (seen !== undefined && seen !== r.body) throw new ModelFailure("HOOK-7", `two bodies for webhook-id ${id}`, seen, r.body);
      bodies.set(id, r.body);
      if (seen !== undefined) continue;
      const { key, detail, appId } = classify(r);
      const expected = this.model.expected.get(key);
      const rule = expected?.rule ?? (key.startsWith("push.requested") ? "HOOK-13" : "HOOK-6");
      if (appId !== this.app.appId) throw new ModelFailure(rule, `delivery ${id} names another app`, this.app.appId, appId);
      if (!expected) throw new ModelFailure(rule, `unexpected delivery ${key} (${id})`, "none", r.body);
      if (detail !== expected.detail) throw new ModelFailure(rule, `delivery ${key} (${id}) carries the wrong content`, expected.detail, detail);
      let ids = idsByKey.get(key);
      if (!ids) idsByKey.set(key, (ids = new Set()));
      ids.add(id);
      if (ids.size > expected.count) throw new ModelFailure(rule, `more distinct deliveries of ${key} than committed events`, expected.count, [...ids]);
    }
  }

  stats(): RunResult["stats"] {
    return { expected: this.model.summary(), requests: this.requests, failed: this.failed, steps: Math.min(this.step, this.options.steps) };
  }

  report(failure: Error | undefined): string {
    if (!failure) return `seed=${this.options.seed}: ok`;
    const what = failure instanceof ModelFailure ? `${failure.rule}: ${failure.what}\n${failure.diff()}` : (failure.stack ?? failure.message);
    return [
      `app backends model failed: seed=${this.options.seed} steps=${this.options.steps} at step ${this.step}`,
      what,
      `online now: ${[...this.model.online].sort().join(",") || "nobody"}; webhook: ${this.model.webhook ? [...this.model.webhook].map((t) => WebhookEventType[t]).join(",") : "none"}`,
      "last operations:",
      ...this.log.slice(-15),
    ].join("\n");
  }
}

/** A delivery's model key, the content the model checks, and the app it names. */
function classify(r: ReceivedRequest): { key: string; detail: string; appId: string } {
  const data = r.event?.data;
  const appId = data?.appId ?? "";
  const payload = data?.event?.payload;
  switch (r.event?.type) {
    case "message.sent":
      if (payload?.case === "messageReceived") return { key: sentKey(payload.value.message?.messageId ?? ""), detail: receiversDetail(data!.receiverIds), appId };
      break;
    case "message.recalled":
      if (payload?.case === "messageRecalled") return { key: recalledKey(payload.value.messageId), detail: receiversDetail(data!.receiverIds), appId };
      break;
    case "member.joined":
      if (payload?.case === "memberJoined") return { key: joinedKey(payload.value.groupId, payload.value.member?.userId ?? ""), detail: "", appId };
      break;
    case "member.left":
      if (payload?.case === "memberLeft") return { key: leftKey(payload.value.groupId, payload.value.userId), detail: "", appId };
      break;
    case "push.requested": {
      const p = data?.push;
      if (p) return { key: pushKey(p.messageId, p.userId), detail: pushDetail({ group: p.groupId, sender: p.senderId, receivers: p.targeted ? ["?"] : [] }), appId };
      break;
    }
  }
  return { key: `${r.event?.type} (malformed or unknown)`, detail: r.body, appId };
}
