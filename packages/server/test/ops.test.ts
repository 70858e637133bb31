// Operations endpoints over the wire (issue 11): /healthz, /readyz, grpc.health.v1 over gRPC,
// Prometheus series after real RPCs, and the request ID in responses and in every log line of a
// request; last, the fan-out counters fed by a Subscription directly (a slow consumer over the
// wire is slow-consumer.test.ts's business).
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, Code, ConnectError } from "@connectrpc/connect";
import { GroupType, SubscribeResponseSchema } from "@narrowcast/gen";
import { pino } from "pino";
import { create } from "@bufbuild/protobuf";
import { Subscription } from "../src/subscription.js";
import { bufferedSizeOf } from "../src/frames.js";
import { HealthService, ServingStatus } from "../src/ops/health-service.js";
import { ServerMetrics } from "../src/ops/metrics.js";
import { origin } from "../src/positions.js";

import { AppFixture, TestServer, UserClient, isMessage } from "./support.js";

/** The value of a sample line of the exposition, e.g. `name{a="b"} 3`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    const labelText = rest.startsWith("{") ? rest.slice(1, rest.indexOf("}")) : "";
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    if (!Object.entries(labels).every(([k, v]) => labelText.split(",").includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("health and readiness", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start({ healthWatchIntervalMs: 50 });
  });
  afterAll(() => server.close());

  it("/healthz answers 200 and /readyz 200 with the checks", async () => {
    const live = await fetch(`${server.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.text()).toBe("ok\n");
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", store: "ok", bus: "ok" });
    expect((await fetch(`${server.url}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("grpc.health.v1.Health/Check answers SERVING over gRPC, for the server and each service, without a token", async () => {
    const health = createClient(HealthService, server.transport("grpc"));
    for (const service of ["", "narrowcast.v1.MessageService", "narrowcast.admin.v1.AdminService"]) {
      const res = await health.check({ service });
      expect(res.status, service).toBe(ServingStatus.SERVING);
    }
    const unknown = await health.check({ service: "no.such.Service" }).catch((err: unknown) => ConnectError.from(err));
    expect(unknown).toBeInstanceOf(ConnectError);
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
  });

  it("grpc.health.v1.Health/Watch sends the current status first", async () => {
    const health = createClient(HealthService, server.transport("grpc"));
    const abort = new AbortController();
    for await (const res of health.watch({ service: "" }, { signal: abort.signal })) {
      expect(res.status).toBe(ServingStatus.SERVING);
      break;
    }
    abort.abort();
  });
});

describe("metrics", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start();
  });
  afterAll(() => server.close());

  it("exposes RPCs by procedure and code, latency, open streams, deliveries and store latency after RPCs", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
    const groupId = await app.group(GroupType.WORK, "alice", ["bob"]);
    const stream = await app.user("bob").subscribe();
    await app.user("alice").send(groupId, "hello");
    await stream.waitFor(isMessage("hello"));
    const denied = await app.user("alice").messages.sendMessage({ groupId, elements: [] }).catch((err: unknown) => ConnectError.from(err));
    expect(denied).toBeInstanceOf(ConnectError);

    // A Subscribe served by the fast path, refused: counted when it ends.
    const refused = await (async () => {
      const bad = new UserClient("mallory", "not-a-token", server.transport("connect", { token: "not-a-token" }));
      for await (const _ of bad.events.subscribe({})) break;
    })().catch((err: unknown) => ConnectError.from(err));
    expect(refused).toBeInstanceOf(ConnectError);

    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    const send = "narrowcast.v1.MessageService/SendMessage";
    expect(sample(text, "narrowcast_rpc_handled_total", { procedure: send, code: "OK" })).toBe(1);
    expect(sample(text, "narrowcast_rpc_handled_total", { procedure: send, code: Code[(denied as ConnectError).code] })).toBe(1);
    expect(sample(text, "narrowcast_rpc_duration_seconds_count", { procedure: send, code: "OK" })).toBe(1);
    expect(sample(text, "narrowcast_rpc_duration_seconds_bucket", { procedure: send, code: "OK", le: "+Inf" })).toBe(1);
    expect(sample(text, "narrowcast_subscribe_streams_open")).toBe(1);
    expect(sample(text, "narrowcast_rpc_handled_total", { procedure: "narrowcast.v1.EventService/Subscribe", code: "Unauthenticated" })).toBe(1);
    expect(sample(text, "narrowcast_events_delivered_total")).toBeGreaterThanOrEqual(1);
    expect(sample(text, "narrowcast_store_operation_duration_seconds_count", { operation: "appendMessage", outcome: "ok" })).toBeGreaterThanOrEqual(1);
    for (const name of ["narrowcast_slow_consumer_cuts_total", "narrowcast_sequencer_gaps_skipped_total", "narrowcast_bus_lag_seconds_count", "process_cpu_seconds_total"]) {
      expect(sample(text, name), name).toBeDefined();
    }
    expect(sample(text, "narrowcast_bus_lag_seconds_count")).toBeGreaterThanOrEqual(1);

    stream.close();
  });
});

describe("request IDs", () => {
  const lines: Record<string, unknown>[] = [];
  let server: TestServer;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    server = await TestServer.start({ logger: pino({ level: "info" }, sink) });
  });
  afterAll(() => server.close());

  async function call(requestId?: string) {
    const headers: Record<string, string> = { "content-type": "application/json", "connect-protocol-version": "1" };
    if (requestId !== undefined) headers["x-request-id"] = requestId;
    return fetch(`${server.url}/narrowcast.v1.GroupService/GetGroup`, { method: "POST", headers, body: JSON.stringify({ groupId: "g1" }) });
  }

  it("keeps a sane incoming X-Request-Id, answers it and logs it on the request's lines", async () => {
    const res = await call("lb-7f3a:0001");
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toBe("lb-7f3a:0001");
    const line = lines.find((l) => l.requestId === "lb-7f3a:0001");
    expect(line).toMatchObject({ msg: "rpc failed", procedure: "narrowcast.v1.GroupService/GetGroup", code: "Unauthenticated" });
  });

  it("replaces a missing or insane one with a generated ID, logged the same way", async () => {
    for (const incoming of [undefined, "has spaces", "x".repeat(200), 'quote"s']) {
      const res = await call(incoming);
      const id = res.headers.get("x-request-id")!;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(lines.some((l) => l.requestId === id && l.msg === "rpc failed")).toBe(true);
    }
  });

  it("puts the ID on every log line of a failed request (no line without it)", () => {
    const failed = lines.filter((l) => l.msg === "rpc failed");
    expect(failed.length).toBeGreaterThanOrEqual(5);
    for (const l of failed) expect(typeof l.requestId).toBe("string");
  });
});

describe("fan-out metrics", () => {
  it("count deliveries and slow-consumer cuts as the hub reports them", async () => {
    const metrics = new ServerMetrics({ openStreams: () => 0, processMetrics: false });
    // A stream whose queue holds 2 events and whose reader never reads: the third cuts it (EVT-6).
    const item = create(SubscribeResponseSchema, { item: { case: "heartbeat", value: {} } });
    const sub = new Subscription("app", "alice", 2 * bufferedSizeOf(item), metrics);
    sub.finishReplay(origin(), 60_000);
    for (let position = 1; position <= 3; position++) {
      const released = origin();
      released[0] = position;
      sub.push(item, { partition: 0, position, released });
    }
    sub.dispose();
    const text = await metrics.scrape();
    expect(sample(text, "narrowcast_events_delivered_total")).toBe(2);
    expect(sample(text, "narrowcast_slow_consumer_cuts_total")).toBe(1);
    expect(sample(text, "process_cpu_seconds_total")).toBeUndefined();
  });
});
