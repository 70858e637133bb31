// The Bus across nodes, routed by interest (bus/types.ts). Subjects, under a deployment prefix
// (default "narrowcast"):
//   <prefix>.e.<apptag>.<group>   the event, for nodes that follow the group
//   <prefix>.t.<apptag>           a tick (position, group, joined user) for nodes that follow the app
// <apptag> is the app's cursor tag (cursor.ts); <group> is the group ID with "." written as "%"
// (IDs never contain "%", GRP-8). Both carry the app ID too, so a tag collision is harmless.
// A node's intake is the events of its followed groups plus one tick per stored event of its
// followed apps, not every event of the deployment.
import { connect, type NatsConnection, type Subscription } from "nats";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { EventSchema } from "@narrowcast/gen";
import { appTag } from "../cursor.js";
import type { EventTick, StoredEvent } from "../store/types.js";
import type { Bus, BusInterest } from "./types.js";

export interface NatsBusOptions {
  /** NATS server URL(s), e.g. "nats://127.0.0.1:4222". */
  servers: string | string[];
  /** The subject prefix all nodes of one deployment share; default "narrowcast". */
  subject?: string;
  /** Connection name shown by NATS monitoring. */
  name?: string;
}

/** The event's wire form: the routing fields as JSON, then the event in binary. */
function encodeEvent(e: StoredEvent): Uint8Array {
  const header = Buffer.from(
    JSON.stringify({ a: e.appId, p: e.partition, i: e.position, g: e.groupId, au: e.audience, m: e.membership }),
  );
  const event = toBinary(EventSchema, e.event);
  const out = Buffer.allocUnsafe(4 + header.length + event.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  out.set(event, 4 + header.length);
  return out;
}

function decodeEvent(data: Uint8Array): StoredEvent {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const length = buf.readUInt32BE(0);
  const h = JSON.parse(buf.subarray(4, 4 + length).toString("utf8"));
  return {
    appId: h.a,
    partition: h.p,
    position: h.i,
    groupId: h.g,
    audience: h.au,
    membership: h.m,
    event: fromBinary(EventSchema, buf.subarray(4 + length)),
  };
}

/** A tick's wire form: small and cheap to read (no JSON, no protobuf). */
function encodeTick(e: StoredEvent): Uint8Array {
  const joined = e.membership?.change === "joined" ? e.membership.userId : "";
  const parts = [e.appId, e.groupId, joined].map((s) => Buffer.from(s, "utf8"));
  const out = Buffer.allocUnsafe(1 + 8 + parts.reduce((n, p) => n + 1 + p.length, 0));
  let at = out.writeUInt8(e.partition, 0);
  at = out.writeDoubleBE(e.position, at);
  for (const p of parts) {
    at = out.writeUInt8(p.length, at);
    at += p.copy(out, at);
  }
  return out;
}

function decodeTick(data: Uint8Array): EventTick {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const partition = buf.readUInt8(0);
  const position = buf.readDoubleBE(1);
  let at = 9;
  const next = () => {
    const n = buf.readUInt8(at);
    const s = buf.toString("utf8", at + 1, at + 1 + n);
    at += 1 + n;
    return s;
  };
  const appId = next();
  const groupId = next();
  const joined = next();
  return { appId, partition, position, groupId, joinedUserId: joined || undefined };
}

export class NatsBus implements Bus, BusInterest {
  private readonly handlers = new Set<(event: StoredEvent) => void>();
  private readonly tickHandlers = new Set<(tick: EventTick) => void>();
  private readonly connectionListeners = new Set<(connected: boolean) => void>();
  /** Subject → its subscription, for followed apps (ticks) and groups (events). */
  private readonly subscriptions = new Map<string, Subscription>();
  private closed = false;
  readonly interest: BusInterest = this;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
  ) {
    void this.watchStatus();
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    // A link that stalls without closing is noticed after about two missed pings (10 s); live
    // delivery does not wait for that (the hub polls the store), but the outage becomes visible.
    const nc = await connect({
      servers: options.servers,
      name: options.name ?? "narrowcast",
      maxReconnectAttempts: -1,
      pingInterval: 5000,
      maxPingOut: 2,
    });
    return new NatsBus(nc, options.subject ?? "narrowcast");
  }

  private eventSubject(appId: string, groupId: string): string {
    return `${this.prefix}.e.${appTag(appId)}.${groupId.replaceAll(".", "%")}`;
  }

  private tickSubject(appId: string): string {
    return `${this.prefix}.t.${appTag(appId)}`;
  }

  /** Turns the client's status events into connection changes (disconnect / reconnect). */
  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      const connected = status.type === "reconnect" ? true : status.type === "disconnect" ? false : undefined;
      if (connected !== undefined) for (const listener of this.connectionListeners) listener(connected);
    }
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  publish(event: StoredEvent): void {
    if (this.closed) return;
    this.nc.publish(this.eventSubject(event.appId, event.groupId), encodeEvent(event));
    // Events that are not stored (position 0) are not sequenced: no tick.
    if (event.position !== 0) this.nc.publish(this.tickSubject(event.appId), encodeTick(event));
  }

  subscribe(handler: (event: StoredEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onTick(handler: (tick: EventTick) => void): () => void {
    this.tickHandlers.add(handler);
    return () => this.tickHandlers.delete(handler);
  }

  followApp(appId: string): void {
    this.follow(this.tickSubject(appId), decodeTick, (tick) => {
      if (tick.appId === appId) for (const handler of this.tickHandlers) handler(tick);
    });
  }

  unfollowApp(appId: string): void {
    this.unfollow(this.tickSubject(appId));
  }

  followGroup(appId: string, groupId: string): void {
    this.follow(this.eventSubject(appId, groupId), decodeEvent, (event) => {
      if (event.appId === appId && event.groupId === groupId) for (const handler of this.handlers) handler(event);
    });
  }

  unfollowGroup(appId: string, groupId: string): void {
    this.unfollow(this.eventSubject(appId, groupId));
  }

  private follow<T>(subject: string, decode: (data: Uint8Array) => T, receive: (item: T) => void): void {
    if (this.closed || this.subscriptions.has(subject)) return;
    const subscription = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err || this.closed) return;
        let item: T;
        try {
          item = decode(msg.data);
        } catch {
          return; // not ours (malformed)
        }
        receive(item);
      },
    });
    this.subscriptions.set(subject, subscription);
  }

  private unfollow(subject: string): void {
    this.subscriptions.get(subject)?.unsubscribe();
    this.subscriptions.delete(subject);
  }

  /** A round trip to the server: it has then processed every subscription sent before it. */
  async settled(): Promise<void> {
    if (!this.closed) await this.nc.flush();
  }

  /** A round trip to the NATS server; pending while disconnected (the caller's deadline decides). */
  async ping(): Promise<void> {
    if (this.closed || this.nc.isClosed()) throw new Error("NATS connection closed");
    await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    this.tickHandlers.clear();
    for (const s of this.subscriptions.values()) s.unsubscribe();
    this.subscriptions.clear();
    await this.nc.drain();
  }
}
