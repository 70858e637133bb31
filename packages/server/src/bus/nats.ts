// The Bus across nodes: every node publishes its committed events to one NATS subject and
// delivers what it receives from it, its own publications included, so all nodes see one order
// of publications. (IDs can still arrive out of order; the hub's Sequencer restores it.)
import { connect, type NatsConnection, type Subscription } from "nats";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { EventSchema } from "@narrowcast/gen";
import type { StoredEvent } from "../store/types.js";
import type { Bus } from "./types.js";

export interface NatsBusOptions {
  /** NATS server URL(s), e.g. "nats://127.0.0.1:4222". */
  servers: string | string[];
  /** The subject all nodes of one deployment share; default "narrowcast.events". */
  subject?: string;
  /** Connection name shown by NATS monitoring. */
  name?: string;
}

/** The wire form: the routing fields as JSON, then the event in binary. */
function encode(e: StoredEvent): Uint8Array {
  const header = Buffer.from(
    JSON.stringify({ a: e.appId, i: e.eventId, g: e.groupId, au: e.audience, m: e.membership }),
  );
  const event = toBinary(EventSchema, e.event);
  const out = Buffer.allocUnsafe(4 + header.length + event.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  out.set(event, 4 + header.length);
  return out;
}

function decode(data: Uint8Array): StoredEvent {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const length = buf.readUInt32BE(0);
  const h = JSON.parse(buf.subarray(4, 4 + length).toString("utf8"));
  return {
    appId: h.a,
    eventId: h.i,
    groupId: h.g,
    audience: h.au,
    membership: h.m,
    event: fromBinary(EventSchema, buf.subarray(4 + length)),
  };
}

export class NatsBus implements Bus {
  private readonly handlers = new Set<(event: StoredEvent) => void>();
  private readonly subscription: Subscription;
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
  ) {
    this.subscription = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err || this.closed) return;
        let event: StoredEvent;
        try {
          event = decode(msg.data);
        } catch {
          return; // not ours
        }
        for (const handler of this.handlers) handler(event);
      },
    });
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const nc = await connect({ servers: options.servers, name: options.name ?? "narrowcast", maxReconnectAttempts: -1 });
    const bus = new NatsBus(nc, options.subject ?? "narrowcast.events");
    // The subscription is registered with the server before anything is published.
    await nc.flush();
    return bus;
  }

  publish(event: StoredEvent): void {
    if (this.closed) return;
    this.nc.publish(this.subject, encode(event));
  }

  subscribe(handler: (event: StoredEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
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
    this.subscription.unsubscribe();
    await this.nc.drain();
  }
}
