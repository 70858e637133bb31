// Scenario (f), a burst: G online members (default 100), each with one Subscribe
// stream on the GENERATED connect-es client (an ordinary client, not the lean reader), and one
// sender sending M messages of 100 bytes (default 2,000) as fast as the server accepts them
// (8 in flight). When M exceeds what a stream may have queued (subscriberBufferBytes), a member
// that falls behind is cut with SLOW_CONSUMER; it resumes from its last cursor, as a real client
// would, and keeps counting. Every message carries its number, so each member's deliveries are
// checked for duplicates and gaps.
import { BusyMeter, type BenchEnv } from "./env.js";
import { FanoutRoom } from "./fanout.js";
import { now, pool, sleep, stamp, within } from "./stats.js";
import { textElement } from "./env.js";

export interface BurstOptions {
  members: number;
  messages: number;
  inflight: number;
  perConnection: number;
  timeoutSeconds: number;
}

export interface BurstResult {
  members: number;
  messages: number;
  connections: number;
  senderInflight: number;
  expected: number;
  /** Distinct (member, message) deliveries. */
  delivered: number;
  duplicates: number;
  missing: number;
  /** Every member got every message exactly once. */
  exactlyOnce: boolean;
  /** From the first send call to the last first-time delivery. */
  seconds: number;
  deliveriesPerSecond: number;
  /** How long the sender took to get all sends accepted. */
  sendSeconds: number;
  /** SLOW_CONSUMER cuts (each followed by a resume from the member's last cursor). */
  cuts: number;
  membersCut: number;
  /** The server thread's busy event-loop time from the first send to the last delivery (worker thread only). */
  serverBusyMs?: number;
  serverMsPerDelivery?: number;
  /** Streams that ended with another error (not resumed). */
  streamErrors: Record<string, number>;
}

/** custom_data: the send time (8 bytes, as stamp() writes it) then the message's number. */
function numbered(sentAt: number, index: number): Uint8Array {
  const bytes = new Uint8Array(12);
  bytes.set(stamp(sentAt));
  new DataView(bytes.buffer).setUint32(8, index);
  return bytes;
}

function numberOf(customData: Uint8Array): number {
  return customData.length < 12 ? -1 : new DataView(customData.buffer, customData.byteOffset, 12).getUint32(8);
}

export async function burst(env: BenchEnv, o: BurstOptions): Promise<BurstResult> {
  const room = await FanoutRoom.open(env, o.members, o.perConnection, "connect", { label: "burst", resume: true });
  try {
    const expected = o.members * o.messages;
    const counts = Array.from({ length: o.members }, () => new Uint16Array(o.messages));
    let delivered = 0;
    let duplicates = 0;
    let strays = 0;
    let last = 0;
    let allDelivered!: () => void;
    const done = new Promise<void>((resolve) => (allDelivered = resolve));
    room.onDelivery = (message, at, member) => {
      const i = numberOf(message.customData);
      if (i < 0 || i >= o.messages) return void strays++;
      if (counts[member][i]++ > 0) return void duplicates++;
      delivered++;
      last = at;
      if (delivered === expected) allDelivered();
    };
    const connection = env.connection();
    const call = await env.as(room.sender);
    const busy = await BusyMeter.start(env.server);
    const start = now();
    await pool(o.messages, o.inflight, async (i) => {
      await connection.messages.sendMessage({ groupId: room.groupId, elements: [textElement(100)], customData: numbered(now(), i) }, call);
    });
    const sendSeconds = (now() - start) / 1000;
    await within(done, o.timeoutSeconds * 1000);
    const serverBusyMs = await busy.stop();
    // A little longer, so late duplicates (a replay overlapping what was already received) count.
    await sleep(250);
    room.onDelivery = () => {};
    env.release(connection);
    const seconds = ((delivered ? last : now()) - start) / 1000;
    return {
      members: o.members,
      messages: o.messages,
      connections: room.connectionCount,
      senderInflight: o.inflight,
      expected,
      delivered,
      duplicates: duplicates + strays,
      missing: expected - delivered,
      exactlyOnce: delivered === expected && duplicates + strays === 0,
      seconds,
      deliveriesPerSecond: delivered / seconds,
      sendSeconds,
      cuts: room.cuts,
      membersCut: room.cutMembers.size,
      serverBusyMs,
      serverMsPerDelivery: serverBusyMs === undefined || delivered === 0 ? undefined : serverBusyMs / delivered,
      streamErrors: Object.fromEntries(room.streamErrors),
    };
  } finally {
    await room.close();
  }
}
