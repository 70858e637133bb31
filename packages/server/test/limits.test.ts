// Limits that need a server of their own: the per-group rate limit (MSG-5) on a server allowing
// 5 sends per second, the recall window (MSG-11) and the idempotency window (MSG-10) on a server
// whose clock the test moves, and shutdown ending open streams (EVT-9).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimiter } from "../src/rate-limit.js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason, EventService, GroupType, MemberRole } from "@narrowcast/gen";
import {
  AppFixture,
  EventStream,
  FakeClock,
  PROTOCOLS,
  TestServer,
  WAIT_MS,
  checkError,
  detailsOf,
  expectError,
  isMessage,
  text,
  type UserClient,
} from "./support.js";

/** Sends until the group's bucket is empty: returns the sends accepted before the first RATE_LIMITED. */
async function drainBucket(send: (i: number) => Promise<unknown>, max = 25): Promise<number> {
  for (let accepted = 0; accepted < max; accepted++) {
    try {
      await send(accepted);
    } catch (err) {
      const ce = checkError(ConnectError.from(err), Code.ResourceExhausted, ErrorReason.RATE_LIMITED);
      // ERR-5: RetryInfo says when the bucket has a token again: at least 1 ms, at most one
      // token's time at 5 per second.
      const delay = durationMs(detailsOf(ce).retryInfo[0].retryDelay!);
      expect(delay).toBeGreaterThanOrEqual(1);
      expect(delay).toBeLessThanOrEqual(200);
      return accepted;
    }
  }
  throw new Error(`no RATE_LIMITED within ${max} quick sends`);
}

/** Sends once the bucket has a token again (polling, bounded). */
async function sendWhenAllowed(user: UserClient, groupId: string, body: string) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await user.send(groupId, body);
    } catch (err) {
      const ce = ConnectError.from(err);
      if (ce.code !== Code.ResourceExhausted || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("MSG-5: rate limit (a server allowing 5 sends per second per group)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start({ rateLimitPerSecond: 5 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(PROTOCOLS)("%s: the burst passes, the next quick send is RATE_LIMITED and leaves no trace", async (protocol) => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "olaf"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const other = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    const bob = await app.user("bob").subscribe();
    const first = await alice.send(g, "keyed", { clientMessageId: "k" });
    const accepted = 1 + (await drainBucket((i) => alice.send(g, `burst${i}`)));
    // The bucket holds 5; a slow machine may refill a few more before the first refusal.
    expect(accepted).toBeGreaterThanOrEqual(5);

    // With the bucket empty: earlier checks still decide, and an idempotent retry returns the original.
    await expectError(alice.send(g, "x", { mentionedUserIds: ["olaf"] }), Code.FailedPrecondition, ErrorReason.MENTIONED_USER_NOT_MEMBER);
    await expectError(alice.send(g, "x", { receiverIds: ["olaf"] }), Code.FailedPrecondition, ErrorReason.RECEIVER_NOT_MEMBER);
    expect((await alice.send(g, "keyed", { clientMessageId: "k" })).messageId).toBe(first.messageId);
    // The limit is per group, and AdminService sends count against it too.
    expect((await alice.send(other, "elsewhere")).seq).toBe(1n);
    const moreAccepted = await drainBucket((i) =>
      app.admin.sendMessage({ appId: app.appId, message: { groupId: g, elements: [text(`system${i}`)] } }),
    );

    const after = await sendWhenAllowed(alice, g, "after the pause");
    await bob.waitFor(isMessage("after the pause"));
    const history = await app.user("bob").history(g);
    const seqs = history.map((m) => Number(m.seq));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(after.seq).toBe(BigInt(seqs.length));
    expect(seqs.length).toBe(accepted + moreAccepted + 1);
    const delivered = bob.messages.filter((m) => m.groupId === g).map((m) => m.messageId);
    expect(delivered).toEqual(history.map((m) => m.messageId));
    expect((await app.user("bob").conversation(g)).unreadCount).toBe(seqs.length);
    bob.close();
  });
});

// A write that passed the bucket and then stored nothing (a race the wire cannot stage on demand:
// a recall committing between an edit's checks and its write) gives its token back (MSG-15, EDT-6).
describe("MSG-5: a token given back", () => {
  it("is taken again by the next request, and never fills the bucket beyond its burst", () => {
    const bucket = new RateLimiter(2, () => 0);
    expect([bucket.take("g"), bucket.take("g"), bucket.take("g")]).toEqual([true, true, false]);
    bucket.giveBack("g");
    expect([bucket.take("g"), bucket.take("g")]).toEqual([true, false]);
    bucket.giveBack("g");
    bucket.giveBack("g");
    bucket.giveBack("g");
    expect([bucket.take("g"), bucket.take("g"), bucket.take("g")]).toEqual([true, true, false]);
  });
});

describe("MSG-11, MSG-10: recall and idempotency windows (a server whose clock the test moves)", () => {
  const clock = new FakeClock();
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start({ now: clock.now });
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(PROTOCOLS)("%s: the sender recalls within 120 s only; owner, admins and the backend at any time", async (protocol) => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    await app.admin.setMemberRole({ appId: app.appId, groupId: g, userId: "bob", role: MemberRole.ADMIN });
    const carol = app.user("carol");
    const [m1, m2, m3, m4] = [await carol.send(g, "m1"), await carol.send(g, "m2"), await carol.send(g, "m3"), await carol.send(g, "m4")];
    const own = await app.user("alice").send(g, "owner's own");
    clock.advance(119);
    expect((await carol.messages.recallMessage({ groupId: g, messageId: m1.messageId })).message?.recall?.recalledBy).toBe("carol");
    clock.advance(2);
    await expectError(carol.messages.recallMessage({ groupId: g, messageId: m2.messageId }), Code.FailedPrecondition, ErrorReason.RECALL_WINDOW_EXPIRED);
    expect((await app.user("bob").messages.recallMessage({ groupId: g, messageId: m2.messageId })).message?.recall?.recalledBy).toBe("bob");
    expect((await app.user("alice").messages.recallMessage({ groupId: g, messageId: m3.messageId })).message?.recall?.recalledBy).toBe("alice");
    expect((await app.user("alice").messages.recallMessage({ groupId: g, messageId: own.messageId })).message?.recall).toBeDefined();
    clock.advance(86_400 * 30);
    expect((await app.admin.recallMessage({ appId: app.appId, groupId: g, messageId: m4.messageId })).message?.recall?.recalledBy).toBe("");
  });

  it.each(PROTOCOLS)("%s: a key is remembered for 24 hours, then a send with it is a new message", async (protocol) => {
    const app = await AppFixture.create(server, protocol, { users: ["alice"] });
    const g = await app.group(GroupType.WORK, "alice");
    const first = await app.user("alice").send(g, "hello", { clientMessageId: "daily" });
    clock.advance(23 * 3600);
    expect((await app.user("alice").send(g, "hello", { clientMessageId: "daily" })).messageId).toBe(first.messageId);
    clock.advance(3600 + 1);
    const [alice] = await app.addUsers("alice"); // the first token has expired by now
    const later = await alice.send(g, "hello", { clientMessageId: "daily" });
    expect(later.messageId).not.toBe(first.messageId);
    expect(later.seq).toBe(2n);
  });
});

describe("EVT-9: shutdown ends every open stream with Unavailable SHUTTING_DOWN", () => {
  it("over every protocol and HTTP version", async () => {
    const server = await TestServer.start();
    try {
      const streams: EventStream[] = [];
      for (const protocol of PROTOCOLS) {
        const app = await AppFixture.create(server, protocol, { users: ["bob"] });
        streams.push(await app.user("bob").subscribe());
        if (protocol !== "grpc") {
          const { token } = app.user("bob");
          const h1 = createClient(EventService, server.transport(protocol, { token, httpVersion: "1.1" }));
          const s = EventStream.open(h1, {}, `bob over ${protocol} HTTP/1.1`);
          await s.ready();
          streams.push(s);
        }
      }
      expect(server.running.subscriptions()).toBe(streams.length);
      await server.close();
      for (const s of streams) {
        const ce = checkError(await s.endError(), Code.Unavailable, ErrorReason.SHUTTING_DOWN);
        expect(durationMs(detailsOf(ce).retryInfo[0].retryDelay!)).toBe(1000);
      }
    } finally {
      await server.close();
    }
  });
});
