// Scenario (a): SendMessage RPCs per second into one persisted group, with a fixed number of
// requests in flight on one HTTP/2 connection. Ordinary messages write O(1) rows; targeted ones
// (2 receivers) write 3 audience rows more. Nobody is subscribed: this measures the write path.
import { type BenchEnv, textElement, userIds } from "./env.js";
import { now, summarize, type Summary } from "./stats.js";

export interface SendThroughputOptions {
  kind: "ordinary" | "targeted";
  seconds: number;
  inflight: number;
  warmupSeconds: number;
  groupSize: number;
}

export interface SendThroughputResult {
  kind: "ordinary" | "targeted";
  groupSize: number;
  inflight: number;
  seconds: number;
  sends: number;
  sendsPerSecond: number;
  errors: number;
  firstError?: string;
  rpcMs: Summary;
}

export async function sendThroughput(env: BenchEnv, o: SendThroughputOptions): Promise<SendThroughputResult> {
  const [sender, ...members] = userIds(`send-${o.kind}-`, o.groupSize);
  await env.importUsers([sender, ...members]);
  const groupId = await env.createGroup(`send-${o.kind}`, sender, members);
  const connection = env.connection();
  const call = await env.as(sender);
  const request = {
    groupId,
    elements: [textElement(100)],
    receiverIds: o.kind === "targeted" ? members.slice(0, 2) : [],
  };

  let errors = 0;
  let firstError: string | undefined;
  const run = async (seconds: number, samples: number[] | undefined) => {
    const end = now() + seconds * 1000;
    const worker = async () => {
      while (now() < end) {
        const t = now();
        try {
          await connection.messages.sendMessage(request, call);
          samples?.push(now() - t);
        } catch (err) {
          if (!samples) continue;
          errors++;
          firstError ??= String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: o.inflight }, worker));
  };

  await run(o.warmupSeconds, undefined);
  const samples: number[] = [];
  const start = now();
  await run(o.seconds, samples);
  const seconds = (now() - start) / 1000;
  env.release(connection);
  return {
    kind: o.kind,
    groupSize: o.groupSize,
    inflight: o.inflight,
    seconds,
    sends: samples.length,
    sendsPerSecond: samples.length / seconds,
    errors,
    firstError,
    rpcMs: summarize(samples),
  };
}
