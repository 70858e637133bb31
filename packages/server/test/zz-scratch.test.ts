import { afterAll, beforeAll, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { GroupType } from "@narrowcast/gen";
import { AppFixture, TestServer, PROTOCOLS, isMessage, UserClient } from "./support.js";

let server: TestServer;
beforeAll(async () => { server = await TestServer.start({ subscriberBufferSize: 8, rateLimitPerSecond: 100000 }); });
afterAll(() => server?.close());

it.each(["connect"] as const)("slow %s", async (p) => {
  const app = await AppFixture.create(server, p, { users: ["alice", "bob"] });
  const g = await app.group(GroupType.WORK, "alice", ["bob"]);
  const bob = new UserClient("bob", app.user("bob").token, server.transport(p, { token: app.user("bob").token, sessionManager: server.newSession() }));
  const it = bob.events.subscribe({})[Symbol.asyncIterator]();
  const first = await it.next();
  const big = "x".repeat(12000);
  const t0 = Date.now();
  let n = 0;
  for (; n < 1200; n += 40) {
    await Promise.all(Array.from({length: 40}, (_, i) => app.user("alice").send(g, big + (n+i))));
  }
  console.log(p, "sent", n, Date.now() - t0, "ms", server.running.subscriptions());
  let count = 0; let err;
  try { for (;;) { const r = await it.next(); if (r.done) break; count++; } } catch (e) { err = ConnectError.from(e); }
  console.log(p, "read", count, err?.code, err?.message, Date.now() - t0);
});
