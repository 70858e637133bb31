// Scenarios (b) and (c): a group of G online members, each with one live Subscribe stream
// (spread over several HTTP/2 connections), and one sender who is not subscribed.
// (b) measures deliveries per second while the sender sends as fast as it can;
// (c) measures send-to-delivery latency at a fixed, modest send rate.
// Every message carries its send time (performance.now()) in custom_data: one clock, one process.
import { setMaxListeners } from "node:events";
import { ConnectError, type CallOptions } from "@connectrpc/connect";
import { ErrorInfoSchema, type Message } from "@narrowcast/gen";
import { type BenchEnv, type Connection, textElement, userIds } from "./env.js";
import { now, pool, sleep, stamp, summarize, unstamp, within, type Summary } from "./stats.js";
import { RawSubscriberConnection } from "./raw-subscriber.js";

/** Which client the G subscribers use: the lean gRPC one (default) or the generated connect-es one. */
export type SubscriberKind = "raw" | "connect";

/** A delivery of `message` at time `at` to member number `member` (0 to G − 1). */
type DeliveryHandler = (message: Message, at: number, member: number) => void;

export interface RoomOptions {
  /** Prefix of the room's user and group IDs, so rooms of the same size can coexist; default "fan". */
  label?: string;
  /**
   * Generated clients only: a stream ended with SLOW_CONSUMER is reopened from its last cursor, as
   * a real client would do (rule EVT-6), and counted in `cuts` instead of `streamErrors`.
   */
  resume?: boolean;
}

/** The ErrorInfo reason of an error from the server (its wire name, e.g. "SLOW_CONSUMER"), or "". */
export function reasonOf(err: ConnectError): string {
  return err.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
}

/** G subscribed members of one group, plus its (unsubscribed) sender. */
export class FanoutRoom {
  private readonly abort = new AbortController();
  private readonly streams: Promise<void>[] = [];
  private readonly connections: Connection[] = [];
  private readonly rawConnections: RawSubscriberConnection[] = [];
  private readonly cancels: (() => void)[] = [];
  /** Errors that ended a stream (e.g. SLOW_CONSUMER), by reason text. */
  readonly streamErrors = new Map<string, number>();
  /** Streams ended with SLOW_CONSUMER and reopened (RoomOptions.resume). */
  cuts = 0;
  /** Members whose stream was cut at least once. */
  readonly cutMembers = new Set<number>();
  onDelivery: DeliveryHandler = () => {};

  private constructor(
    private readonly env: BenchEnv,
    readonly size: number,
    readonly groupId: string,
    readonly sender: string,
    private readonly resume: boolean,
  ) {
    // Every stream of the room listens to this one signal.
    setMaxListeners(0, this.abort.signal);
  }

  static async open(
    env: BenchEnv,
    size: number,
    perConnection: number,
    subscriber: SubscriberKind = "raw",
    options: RoomOptions = {},
  ): Promise<FanoutRoom> {
    const label = options.label ?? "fan";
    const prefix = `${label}${size}-`;
    const members = userIds(`${prefix}m`, size);
    const sender = `${prefix}sender`;
    await env.importUsers([sender, ...members]);
    const groupId = await env.createGroup(`${label === "fan" ? "fanout" : label}-${size}`, sender, members);
    const room = new FanoutRoom(env, size, groupId, sender, !!options.resume && subscriber === "connect");
    const ready: Promise<void>[] = [];
    for (let i = 0; i < size && subscriber === "raw"; i += perConnection) {
      const connection = new RawSubscriberConnection(env.server.url);
      room.rawConnections.push(connection);
      for (let m = i; m < Math.min(size, i + perConnection); m++) {
        const call = await env.as(members[m]);
        ready.push(room.subscribeRaw(connection, m, (call.headers as Record<string, string>).authorization));
      }
    }
    for (let i = 0; i < size && subscriber === "connect"; i += perConnection) {
      const connection = env.connection();
      room.connections.push(connection);
      for (let m = i; m < Math.min(size, i + perConnection); m++) {
        ready.push(room.subscribe(connection, m, await env.as(members[m], room.abort.signal)));
      }
    }
    await Promise.all(ready);
    return room;
  }

  get connectionCount(): number {
    return this.connections.length + this.rawConnections.length;
  }

  /** Opens one stream with the lean client; the promise settles when its `ready` arrives. */
  private subscribeRaw(connection: RawSubscriberConnection, member: number, authorization: string): Promise<void> {
    return new Promise<void>((onReady, onFail) => {
      let done!: () => void;
      this.streams.push(new Promise<void>((resolve) => (done = resolve)));
      this.cancels.push(
        connection.subscribe(
          authorization,
          (res) => {
            const item = res.item;
            if (item.case === "ready") onReady();
            else if (item.case === "event" && item.value.payload.case === "messageReceived") {
              const message = item.value.payload.value.message;
              if (message?.groupId === this.groupId) this.onDelivery(message, now(), member);
            }
          },
          (err) => {
            done();
            if (!err || this.abort.signal.aborted) return;
            this.streamErrors.set(err.message, (this.streamErrors.get(err.message) ?? 0) + 1);
            onFail(err);
          },
        ),
      );
    });
  }

  /**
   * Opens one stream with the generated client; the returned promise settles when its first
   * `ready` arrives. With `resume`, a stream cut with SLOW_CONSUMER is reopened from the last
   * cursor it received (an event's or the ready's).
   */
  private subscribe(connection: Connection, member: number, call: CallOptions): Promise<void> {
    let onReady!: () => void;
    let onFail!: (err: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => ((onReady = resolve), (onFail = reject)));
    const read = async () => {
      let cursor = "";
      for (;;) {
        try {
          for await (const res of connection.events.subscribe({ cursor }, call)) {
            const item = res.item;
            if (item.case === "ready") {
              if (item.value.cursor) cursor = item.value.cursor;
              onReady();
            } else if (item.case === "event") {
              if (item.value.cursor) cursor = item.value.cursor;
              if (item.value.payload.case === "messageReceived") {
                const message = item.value.payload.value.message;
                if (message?.groupId === this.groupId) this.onDelivery(message, now(), member);
              }
            }
          }
          return;
        } catch (err) {
          if (this.abort.signal.aborted) return;
          const ce = ConnectError.from(err);
          if (this.resume && reasonOf(ce) === "SLOW_CONSUMER") {
            this.cuts++;
            this.cutMembers.add(member);
            continue;
          }
          const reason = ce.rawMessage;
          this.streamErrors.set(reason, (this.streamErrors.get(reason) ?? 0) + 1);
          onFail(err);
          return;
        }
      }
    };
    this.streams.push(read());
    return ready;
  }

  /** Sends one 100-byte text message stamped with its send time. */
  async send(call: Awaited<ReturnType<BenchEnv["as"]>>, connection: Connection): Promise<number> {
    const sentAt = now();
    await connection.messages.sendMessage({ groupId: this.groupId, elements: [textElement(100)], customData: stamp(sentAt) }, call);
    return now() - sentAt;
  }

  async close(): Promise<void> {
    this.abort.abort();
    for (const cancel of this.cancels) cancel();
    await Promise.allSettled(this.streams);
    for (const c of this.rawConnections) c.close();
    for (const c of this.connections) this.env.release(c);
    // Let the server notice the closed streams before the next scenario starts.
    for (let i = 0; i < 100 && (await this.env.server.subscriptions()) > 0; i++) await sleep(20);
  }
}

export interface FanoutResult {
  members: number;
  messages: number;
  connections: number;
  senderInflight: number;
  expected: number;
  deliveries: number;
  complete: boolean;
  /** From the first send call to the last delivery. */
  seconds: number;
  deliveriesPerSecond: number;
  /** How long the sender took to get all sends accepted. */
  sendSeconds: number;
  /** Send-to-delivery latency under this saturating load (for context; see the latency scenario). */
  latencyMs: Summary;
  streamErrors: Record<string, number>;
}

/** (b) One sender sends `messages` as fast as the server accepts them; every member receives each. */
export async function fanout(
  env: BenchEnv,
  room: FanoutRoom,
  o: { messages: number; inflight: number; timeoutSeconds: number },
): Promise<FanoutResult> {
  const expected = room.size * o.messages;
  const latencies: number[] = [];
  let deliveries = 0;
  let last = 0;
  let allDelivered!: () => void;
  const done = new Promise<void>((resolve) => (allDelivered = resolve));
  room.onDelivery = (message, at) => {
    deliveries++;
    last = at;
    latencies.push(at - unstamp(message.customData));
    if (deliveries === expected) allDelivered();
  };
  const connection = env.connection();
  const call = await env.as(room.sender);
  const start = now();
  await pool(o.messages, o.inflight, async () => {
    await room.send(call, connection);
  });
  const sendSeconds = (now() - start) / 1000;
  await within(done, o.timeoutSeconds * 1000);
  room.onDelivery = () => {};
  env.release(connection);
  const seconds = ((deliveries ? last : now()) - start) / 1000;
  return {
    members: room.size,
    messages: o.messages,
    connections: room.connectionCount,
    senderInflight: o.inflight,
    expected,
    deliveries,
    complete: deliveries === expected,
    seconds,
    deliveriesPerSecond: deliveries / seconds,
    sendSeconds,
    latencyMs: summarize(latencies),
    streamErrors: Object.fromEntries(room.streamErrors),
  };
}

export interface LatencyResult {
  members: number;
  ratePerSecond: number;
  messages: number;
  expected: number;
  deliveries: number;
  complete: boolean;
  /** From the send call to each member's delivery. */
  latencyMs: Summary;
  /** Per message, its first delivery to any member: the server path plus one client decode. */
  firstDeliveryMs: Summary;
  /** Per message, its last delivery: how long reaching all G members took. */
  lastDeliveryMs: Summary;
  /** The SendMessage RPC itself. */
  sendRpcMs: Summary;
  streamErrors: Record<string, number>;
}

/** (c) Sends at a fixed rate (not waiting for replies) and records every delivery's latency. */
export async function latency(
  env: BenchEnv,
  room: FanoutRoom,
  o: { ratePerSecond: number; seconds: number; timeoutSeconds: number; warmupSeconds: number },
): Promise<LatencyResult> {
  const messages = Math.max(1, Math.round(o.ratePerSecond * o.seconds));
  // Measured: messages sent from here on. The warm-up sends at the same rate first, so that JIT,
  // pools and prepared statements are warm (a server's steady state, not its first second).
  let measuredFrom = Infinity;
  const expected = room.size * messages;
  const samples: number[] = [];
  const perMessage = new Map<string, { first: number; last: number }>();
  let allDelivered!: () => void;
  const done = new Promise<void>((resolve) => (allDelivered = resolve));
  room.onDelivery = (message, at) => {
    const sentAt = unstamp(message.customData);
    if (sentAt < measuredFrom) return;
    const ms = at - sentAt;
    samples.push(ms);
    const m = perMessage.get(message.messageId);
    if (m) m.last = Math.max(m.last, ms);
    else perMessage.set(message.messageId, { first: ms, last: ms });
    if (samples.length === expected) allDelivered();
  };
  const connection = env.connection();
  const call = await env.as(room.sender);
  const rpc: number[] = [];
  const paced = async (count: number, onRpc: (ms: number) => void) => {
    const sends: Promise<void>[] = [];
    const start = now();
    for (let i = 0; i < count; i++) {
      await sleep(start + (i * 1000) / o.ratePerSecond - now());
      sends.push(room.send(call, connection).then(onRpc));
    }
    await Promise.all(sends);
  };
  await paced(Math.round(o.ratePerSecond * o.warmupSeconds), () => {});
  await sleep(200);
  measuredFrom = now();
  await paced(messages, (ms) => void rpc.push(ms));
  await within(done, o.timeoutSeconds * 1000);
  room.onDelivery = () => {};
  env.release(connection);
  return {
    members: room.size,
    ratePerSecond: o.ratePerSecond,
    messages,
    expected,
    deliveries: samples.length,
    complete: samples.length === expected,
    latencyMs: summarize(samples),
    firstDeliveryMs: summarize([...perMessage.values()].map((m) => m.first)),
    lastDeliveryMs: summarize([...perMessage.values()].map((m) => m.last)),
    sendRpcMs: summarize(rpc),
    streamErrors: Object.fromEntries(room.streamErrors),
  };
}
