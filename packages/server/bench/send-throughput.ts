// Scenario (a): SendMessage RPCs per second into one persisted group, with a fixed number of
// requests in flight on one HTTP/2 connection. Ordinary messages write O(1) rows; targeted ones
// (2 receivers) write 3 audience rows more. Nobody is subscribed: this measures the write path.
// The anchor (issue 13, item 6): the same client loop against a connect-node unary echo server
// (echo.ts), arranged as the server is, with a request of the same encoded size as the ordinary
// SendMessage request; each send result is printed as a ratio to it.
import { create, toBinary } from "@bufbuild/protobuf";
import { type CallOptions, createClient } from "@connectrpc/connect";
import { SendMessageRequestSchema } from "@narrowcast/gen";
import { BusyMeter, type BenchEnv, type ServerHandle, textElement, userIds } from "./env.js";
import { EchoRequestSchema, EchoService, echoPayload } from "./echo.js";
import { now, summarize, type Summary } from "./stats.js";

export interface SendThroughputOptions {
  kind: "ordinary" | "targeted";
  seconds: number;
  inflight: number;
  warmupSeconds: number;
  groupSize: number;
}

export interface LoopOptions {
  seconds: number;
  inflight: number;
  warmupSeconds: number;
}

export interface LoopResult {
  inflight: number;
  seconds: number;
  sends: number;
  sendsPerSecond: number;
  errors: number;
  firstError?: string;
  rpcMs: Summary;
  /** The server thread's busy event-loop time over the measured window (worker thread only). */
  serverBusyMs?: number;
  /** serverBusyMs per completed RPC: a proxy of the server's CPU per RPC (server-thread.ts). */
  serverMsPerRpc?: number;
}

export interface SendThroughputResult extends LoopResult {
  kind: "ordinary" | "targeted";
  groupSize: number;
  /** Encoded size of the SendMessage request (protobuf binary, without framing). */
  requestBytes: number;
}

export interface EchoResult extends LoopResult {
  kind: "echo";
  requestBytes: number;
}

/**
 * The closed loop of scenario (a): `inflight` workers each calling `rpc` back to back, first for
 * a warm-up, then for the measured seconds. Shared by SendMessage and the echo anchor.
 */
export async function closedLoop(server: ServerHandle, rpc: () => Promise<unknown>, o: LoopOptions): Promise<LoopResult> {
  let errors = 0;
  let firstError: string | undefined;
  const run = async (seconds: number, samples: number[] | undefined) => {
    const end = now() + seconds * 1000;
    const worker = async () => {
      while (now() < end) {
        const t = now();
        try {
          await rpc();
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
  const busy = await BusyMeter.start(server);
  const start = now();
  await run(o.seconds, samples);
  const seconds = (now() - start) / 1000;
  const serverBusyMs = await busy.stop();
  return {
    inflight: o.inflight,
    seconds,
    sends: samples.length,
    sendsPerSecond: samples.length / seconds,
    errors,
    firstError,
    rpcMs: summarize(samples),
    serverBusyMs,
    serverMsPerRpc: serverBusyMs === undefined || samples.length === 0 ? undefined : serverBusyMs / samples.length,
  };
}

/** The ordinary/targeted SendMessage request of scenario (a) in group `groupId`. */
function sendRequest(kind: SendThroughputOptions["kind"], groupId: string, members: readonly string[]) {
  return { groupId, elements: [textElement(100)], receiverIds: kind === "targeted" ? members.slice(0, 2) : [] };
}

/** Encoded size of scenario (a)'s ordinary SendMessage request (group IDs are as long as the ones it makes). */
export function ordinarySendRequestBytes(): number {
  return toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, sendRequest("ordinary", "send-ordinary", []))).length;
}

export async function sendThroughput(env: BenchEnv, o: SendThroughputOptions): Promise<SendThroughputResult> {
  const [sender, ...members] = userIds(`send-${o.kind}-`, o.groupSize);
  await env.importUsers([sender, ...members]);
  const groupId = await env.createGroup(`send-${o.kind}`, sender, members);
  const connection = env.connection();
  const call = await env.as(sender);
  const request = sendRequest(o.kind, groupId, members);
  const requestBytes = toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, request)).length;
  const result = await closedLoop(env.server, () => connection.messages.sendMessage(request, call), o);
  env.release(connection);
  return { kind: o.kind, groupSize: o.groupSize, requestBytes, ...result };
}

/**
 * The echo anchor: started for this measurement (in a worker thread when the server runs in one)
 * and stopped after it. `call` is a sender's call options, so the echo requests carry the same
 * headers as the sends.
 */
export async function echoThroughput(env: BenchEnv, o: LoopOptions & { requestBytes: number; call: CallOptions }): Promise<EchoResult> {
  const echo = await env.startEcho();
  try {
    const { transport, session } = env.transport(env.options.protocol, echo.url);
    const client = createClient(EchoService, transport);
    const request = create(EchoRequestSchema, { payload: echoPayload(o.requestBytes) });
    const requestBytes = toBinary(EchoRequestSchema, request).length;
    const result = await closedLoop(echo, () => client.echo(request, o.call), o);
    session.abort();
    return { kind: "echo", requestBytes, ...result };
  } finally {
    await echo.close();
  }
}
