// The load of one scenario: an app with groups and users, subscriber devices spread over the
// nodes (each resumes from its last cursor on the next node when its stream ends), and senders
// that retry every send with the same client_message_id until it is acknowledged.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EventService, GroupType, MessageService } from "@narrowcast/gen";
import { AdminService, Plan } from "@narrowcast/gen/admin";
import { ADMIN_KEY } from "./cluster.js";
import { sleep } from "./ports.js";
import { clientError, type ClientError, type Delivery, type SentMessage } from "./records.js";
import type { Random } from "./random.js";

export interface LoadOptions {
  urls: string[];
  users: number;
  groups: number;
  /** Users (the first ones) with a second device. */
  twoDevices: number;
  /** Sends per second, all senders together. */
  rate: number;
  targetedShare: number;
  random: Random;
  label: string;
}

const RESUME_DELAY_MS = 200;
const SEND_TIMEOUT_MS = 5_000;
// Errors that retrying the same request cannot fix: the load itself would be wrong.
const FATAL = new Set([Code.InvalidArgument, Code.NotFound, Code.PermissionDenied, Code.Unauthenticated, Code.FailedPrecondition, Code.AlreadyExists]);

function auth(token: string) {
  return { Authorization: `Bearer ${token}` };
}

/** A user's device: one Subscribe stream at a time, moved to the next node when it ends. */
export class Device {
  readonly deliveries: Delivery[] = [];
  readonly errors: ClientError[] = [];
  cursor = "";
  streams = 0;
  /** The node of each stream opened, in order. */
  readonly nodesUsed: number[] = [];
  private readonly abort = new AbortController();
  private session: Http2SessionManager | undefined;
  private readyResolve!: () => void;
  readonly ready = new Promise<void>((resolve) => (this.readyResolve = resolve));
  private done: Promise<void> | undefined;

  constructor(
    readonly userId: string,
    readonly name: string,
    private readonly token: string,
    private readonly urls: string[],
    private node: number,
  ) {}

  start(): void {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const node = this.node;
      try {
        await this.stream(node);
        if (!this.abort.signal.aborted) this.errors.push({ rpc: "subscribe", node, code: "ended", reason: "", message: "stream ended without error", at: Date.now() });
      } catch (e) {
        if (this.abort.signal.aborted) break;
        this.errors.push(clientError("subscribe", node, e));
      }
      this.session?.abort();
      this.node = (this.node + 1) % this.urls.length;
      await sleep(RESUME_DELAY_MS);
    }
  }

  private async stream(node: number): Promise<void> {
    this.session = new Http2SessionManager(this.urls[node], { pingIntervalMs: 1_000, pingTimeoutMs: 2_000 });
    const client = createClient(EventService, createGrpcTransport({ baseUrl: this.urls[node], sessionManager: this.session }));
    this.streams++;
    this.nodesUsed.push(node);
    let live = false;
    for await (const item of client.subscribe({ cursor: this.cursor, heartbeatInterval: { seconds: 1n } }, { signal: this.abort.signal, headers: auth(this.token) })) {
      if (item.item.case === "ready") {
        live = true;
        // As the SDK does: ready's cursor is the position to resume from.
        if (item.item.value.cursor) this.cursor = item.item.value.cursor;
        this.readyResolve();
        continue;
      }
      if (item.item.case !== "event") continue;
      const event = item.item.value;
      if (event.cursor) this.cursor = event.cursor;
      if (event.payload.case !== "messageReceived") continue;
      const m = event.payload.value.message!;
      const t = m.serverTime!;
      this.deliveries.push({
        messageId: m.messageId,
        clientMessageId: m.clientMessageId,
        senderId: m.senderId,
        groupId: m.groupId,
        seq: m.seq,
        receiverIds: [...m.receiverIds],
        serverTime: Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6),
        at: Date.now(),
        node,
        replay: !live,
      });
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.session?.abort();
    await this.done;
  }
}

export interface Group {
  groupId: string;
  members: string[];
}

/** An app on the cluster, its users, groups and devices, and the senders. */
export class Load {
  readonly sent: SentMessage[] = [];
  readonly sendErrors: ClientError[] = [];
  readonly devices: Device[] = [];
  readonly groups: Group[] = [];
  private readonly tokens = new Map<string, string>();
  private readonly senders: Client<typeof MessageService>[];
  private readonly sessions: Http2SessionManager[] = [];
  private sending: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private giveUpAt = Infinity;
  private counter = 0;

  private constructor(private readonly options: LoadOptions) {
    this.senders = options.urls.map((url) => {
      const session = new Http2SessionManager(url, { pingIntervalMs: 1_000, pingTimeoutMs: 2_000 });
      this.sessions.push(session);
      return createClient(MessageService, createGrpcTransport({ baseUrl: url, sessionManager: session }));
    });
  }

  /** Creates the app, users and groups, and opens every device's stream; resolves once all are ready. */
  static async setUp(options: LoadOptions): Promise<Load> {
    const load = new Load(options);
    const { random } = options;
    const admin = createClient(AdminService, createGrpcTransport({ baseUrl: options.urls[0] }));
    const headers = auth(ADMIN_KEY);
    const { app } = await admin.createApp({ name: options.label, plan: Plan.ULTIMATE }, { headers });
    const appId = app!.appId;
    const users = Array.from({ length: options.users }, (_, i) => `u${i}`);
    await admin.importUsers({ appId, users: users.map((userId) => ({ userId })) }, { headers });
    for (const userId of users) load.tokens.set(userId, (await admin.issueUserToken({ appId, userId }, { headers })).token);
    for (let g = 0; g < options.groups; g++) {
      // Each group: about two thirds of the users, so audiences overlap but differ.
      const members = users.filter(() => random.next() < 0.65);
      while (members.length < 3) {
        const u = random.pick(users);
        if (!members.includes(u)) members.push(u);
      }
      const [owner, ...rest] = members;
      const { group } = await admin.createGroup({ appId, type: GroupType.WORK, groupId: `g${g}`, name: `g${g}`, ownerId: owner, memberIds: rest }, { headers });
      load.groups.push({ groupId: group!.groupId, members });
    }
    let next = 0;
    for (const [i, userId] of users.entries()) {
      for (let d = 0; d < (i < options.twoDevices ? 2 : 1); d++) {
        load.devices.push(new Device(userId, `${userId}/${d}`, load.tokens.get(userId)!, options.urls, next++ % options.urls.length));
      }
    }
    for (const device of load.devices) device.start();
    await Promise.all(load.devices.map((device) => device.ready));
    return load;
  }

  /** Starts sending at the configured rate. */
  startSending(): void {
    const { random, rate, targetedShare } = this.options;
    this.sending = setInterval(() => {
      const group = random.pick(this.groups);
      const senderId = random.pick(group.members);
      const others = group.members.filter((m) => m !== senderId);
      const receiverIds = random.next() < targetedShare ? random.sample(others, 1 + Math.floor(random.next() * Math.min(3, others.length))) : [];
      const record: SentMessage = { clientMessageId: `${this.options.label}-${this.counter++}`, senderId, groupId: group.groupId, receiverIds, firstAttemptAt: Date.now() };
      this.sent.push(record);
      const task = this.send(record, random.int(this.senders.length)).finally(() => this.inFlight.delete(task));
      this.inFlight.add(task);
    }, 1000 / rate);
  }

  /** One send, retried on any error but a fatal one (and moved to the next node) until acknowledged. */
  private async send(record: SentMessage, node: number): Promise<void> {
    const token = this.tokens.get(record.senderId)!;
    for (;;) {
      try {
        const { message } = await this.senders[node].sendMessage(
          { groupId: record.groupId, clientMessageId: record.clientMessageId, receiverIds: record.receiverIds, elements: [{ element: { case: "text", value: { text: record.clientMessageId } } }] },
          { headers: auth(token), timeoutMs: SEND_TIMEOUT_MS },
        );
        const t = message!.serverTime!;
        record.ackAt = Date.now();
        record.ackNode = node;
        record.messageId = message!.messageId;
        record.serverTime = Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
        return;
      } catch (e) {
        const error = clientError("send", node, e);
        this.sendErrors.push(error);
        if (FATAL.has(ConnectError.from(e).code) || Date.now() > this.giveUpAt) return;
        const retryAfter = error.reason === "RATE_LIMITED" ? 1_000 : 200;
        node = (node + 1) % this.senders.length;
        await sleep(retryAfter);
      }
    }
  }

  /** Stops new sends; waits (at most `timeoutMs`) for the ones in flight to be acknowledged. */
  async stopSending(timeoutMs: number): Promise<void> {
    clearInterval(this.sending);
    this.giveUpAt = Date.now() + timeoutMs;
    await Promise.all([...this.inFlight]);
  }

  async close(): Promise<void> {
    clearInterval(this.sending);
    this.giveUpAt = 0;
    await Promise.all(this.devices.map((device) => device.stop()));
    await Promise.all([...this.inFlight]);
    for (const session of this.sessions) session.abort();
  }
}
