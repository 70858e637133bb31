// Scenario (g): the cost of a replay. R members of one group resume at once from a cursor behind
// M stored messages (what every member of a busy group does after a slow-consumer cut or a
// reconnect) on the lean reader; the server thread's busy time per replayed event is the figure.
import { BusyMeter, type BenchEnv, textElement, userIds } from "./env.js";
import { RawSubscriberConnection } from "./raw-subscriber.js";
import { now, pool } from "./stats.js";

export interface ReplayOptions {
  readers: number;
  messages: number;
  rounds: number;
  perConnection: number;
}

export interface ReplayRound {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Server thread's busy ms per replayed event (worker thread only). */
  serverMsPerEvent?: number;
}

export interface ReplayResult {
  readers: number;
  messages: number;
  rounds: ReplayRound[];
}

export async function replayCost(env: BenchEnv, o: ReplayOptions): Promise<ReplayResult> {
  const [sender, ...readers] = userIds("replay-", o.readers + 1);
  await env.importUsers([sender, ...readers]);
  const groupId = await env.createGroup("replay", sender, readers);
  const connections: RawSubscriberConnection[] = [];
  for (let i = 0; i < readers.length; i += o.perConnection) connections.push(new RawSubscriberConnection(env.server.url));
  const auth = async (userId: string) => ((await env.as(userId)).headers as Record<string, string>).authorization;

  // Until `ready`, counting events; resolves with the count and ready's cursor.
  const read = (reader: number, cursor: string) =>
    auth(readers[reader]).then(
      (authorization) =>
        new Promise<{ events: number; cursor: string }>((resolve, reject) => {
          let events = 0;
          const cancel = connections[Math.floor(reader / o.perConnection)].subscribe(
            authorization,
            (item) => {
              if (item.item.case === "event") events++;
              else if (item.item.case === "ready") {
                cancel();
                resolve({ events, cursor: item.item.value.cursor });
              }
            },
            (err) => reject(err ?? new Error("stream ended before ready")),
            cursor,
          );
        }),
    );

  const { cursor } = await read(0, "");
  const sending = env.connection();
  const call = await env.as(sender);
  await pool(o.messages, 64, async () => {
    await sending.messages.sendMessage({ groupId, elements: [textElement(100)] }, call);
  });
  env.release(sending);

  const rounds: ReplayRound[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const busy = await BusyMeter.start(env.server);
    const start = now();
    const counts = await Promise.all(readers.map((_, i) => read(i, cursor)));
    const seconds = (now() - start) / 1000;
    const busyMs = await busy.stop();
    const events = counts.reduce((sum, c) => sum + c.events, 0);
    if (events !== o.readers * o.messages) throw new Error(`replay round ${round}: ${events} events, expected ${o.readers * o.messages}`);
    rounds.push({ events, seconds, eventsPerSecond: events / seconds, serverMsPerEvent: busyMs === undefined ? undefined : busyMs / events });
  }
  for (const c of connections) c.close();
  return { readers: o.readers, messages: o.messages, rounds };
}
