// ServerOptions.interceptors run for every RPC, Subscribe included, whichever code path would
// serve the stream (rule: issue 9 — metrics and tracing must not silently skip Subscribe).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Interceptor } from "@connectrpc/connect";
import { GroupType } from "@narrowcast/gen";
import { AppFixture, PROTOCOLS, TestServer, isMessage } from "./support.js";

/** Counts calls and streamed responses per procedure, as a metrics interceptor would. */
function counting() {
  const calls = new Map<string, number>();
  const streamed = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const interceptor: Interceptor = (next) => async (req) => {
    const procedure = req.method.name;
    bump(calls, procedure);
    const res = await next(req);
    if (!res.stream) return res;
    const inner = res.message;
    return {
      ...res,
      message: (async function* () {
        for await (const m of inner) {
          bump(streamed, procedure);
          yield m;
        }
      })(),
    };
  };
  return { interceptor, calls, streamed };
}

describe("ServerOptions.interceptors", () => {
  const seen = counting();
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start({ interceptors: [seen.interceptor] });
  });
  afterAll(() => server?.close());

  it.each(PROTOCOLS)("see every Subscribe and every item it streams (%s)", async (protocol) => {
    const before = { calls: seen.calls.get("Subscribe") ?? 0, streamed: seen.streamed.get("Subscribe") ?? 0 };
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const stream = await app.user("bob").subscribe();
    await app.user("alice").send(g, "hello");
    await stream.waitFor(isMessage("hello"));
    stream.close();
    expect(seen.calls.get("Subscribe")).toBe(before.calls + 1);
    // `ready` and the message at least went through the interceptor's wrapper.
    expect(seen.streamed.get("Subscribe")! - before.streamed).toBeGreaterThanOrEqual(2);
  });
});

describe("subscribeFastPath: true with interceptors", () => {
  const seen = counting();
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start({ interceptors: [seen.interceptor], subscribeFastPath: true });
  });
  afterAll(() => server?.close());

  it("serves plain Subscribe streams on the fast path, which the option documents as skipping them", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const stream = await app.user("bob").subscribe();
    await app.user("alice").send(g, "hello");
    await stream.waitFor(isMessage("hello"));
    stream.close();
    expect(seen.calls.get("SendMessage")).toBe(1);
    expect(seen.calls.get("Subscribe")).toBeUndefined();
  });
});
