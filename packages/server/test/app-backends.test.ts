// App backends end to end (spec section 16) through the public API, with a local receiver:
// signed deliveries that verify with the `standardwebhooks` library, retries with one webhook-id,
// before-send rejection that leaves no trace, and push requests for exactly the offline audience
// of a targeted message — on one node (SQLite) and on two nodes sharing PostgreSQL and NATS.
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { BeforeSendFailureAction, WebhookEventType } from "@narrowcast/gen/admin";
import { NatsBus } from "../src/bus/nats.js";
import { PostgresStore } from "../src/store/postgres.js";
import type { ServerOptions } from "../src/server.js";
import { AppBackendReceiver, pushedUser, type ReceivedRequest } from "./app-backend-receiver.js";
import { adminSql, natsAvailable, natsUrl, postgresAvailable, postgresUrl, requireOrSkip } from "./services.js";
import { AppFixture, NEGATIVE_WAIT_MS, TestServer, UserClient, expectError, ids, textOf } from "./support.js";

const FAST_RETRY: ServerOptions["webhookRetry"] = { baseMs: 20, capMs: 100, maxAttempts: 10 };
const ALL_TYPES = [
  WebhookEventType.MESSAGE_SENT,
  WebhookEventType.MESSAGE_RECALLED,
  WebhookEventType.MEMBER_JOINED,
  WebhookEventType.MEMBER_LEFT,
  WebhookEventType.GROUP_DISMISSED,
  WebhookEventType.PUSH_REQUESTED,
];

interface Nodes {
  /** Where the sender and the admin calls go. */
  a: TestServer;
  /** Where the online members' streams are (the same node on one node). */
  b: TestServer;
  close(): Promise<void>;
}

function scenarios(name: string, start: () => Promise<Nodes>, enabled: boolean): void {
  describe.runIf(enabled)(`app backends, ${name}`, () => {
    let nodes: Nodes;
    let receiver: AppBackendReceiver;
    beforeAll(async () => {
      nodes = await start();
      receiver = await AppBackendReceiver.start();
    });
    afterAll(async () => {
      await nodes?.close();
      await receiver?.close();
    });

    /** A fresh app whose webhook posts to a path of its own on the receiver. */
    async function appWithWebhook(users: string[], webhook: { beforeSend?: boolean; failureAction?: BeforeSendFailureAction } = {}) {
      const app = await AppFixture.create(nodes.a, "connect", { users });
      const path = `/${app.appId}`;
      const { webhook: set } = await app.admin.setWebhook({
        appId: app.appId,
        webhook: {
          url: receiver.url(path),
          eventTypes: ALL_TYPES,
          beforeSendUrl: webhook.beforeSend ? receiver.url(`${path}/before-send`) : "",
          beforeSendFailureAction: webhook.failureAction,
        },
      });
      const from = (r: ReceivedRequest) => r.path.startsWith(path);
      return { app, secret: set!.secret, path, from };
    }

    it("signs every delivery as Standard Webhooks verifies it, and retries a failing receiver with the same webhook-id (HOOK-4, HOOK-7, HOOK-8)", async () => {
      const { app, secret, path, from } = await appWithWebhook(["alice", "bob"]);
      expect(secret).toMatch(/^whsec_/);
      let failures = 0;
      receiver.respond((r) => (r.path === path && r.event?.type === "message.sent" && failures++ < 3 ? { status: 503 } : undefined));
      const g = await app.group(GroupType.WORK, "alice", ["bob"]);
      const sent = await app.user("alice").send(g, "hello");

      const attempts = await receiver.until((r) => from(r) && r.event?.type === "message.sent", 4);
      expect(attempts).toHaveLength(4);
      expect(new Set(attempts.map((r) => r.headers["webhook-id"])).size).toBe(1);
      const verifier = new StandardWebhook(secret);
      for (const r of attempts) verifier.verify(r.body, r.headers);
      expect(() => verifier.verify(r0(attempts).body.replace("hello", "HELLO"), r0(attempts).headers)).toThrow();
      const message = r0(attempts).event?.data?.event?.payload;
      expect(message?.case).toBe("messageReceived");
      expect(message?.case === "messageReceived" && message.value.message?.messageId).toBe(sent.messageId);
      // member.joined of the group's creation came too, each verified.
      const joined = await receiver.until((r) => from(r) && r.event?.type === "member.joined", 2);
      for (const r of joined) verifier.verify(r.body, r.headers);
      receiver.respond(() => undefined);
    });

    it("a before-send rejection reaches the sender as MESSAGE_REJECTED and nothing is stored or delivered (HOOK-10, HOOK-11)", async () => {
      const { app, from } = await appWithWebhook(["alice", "bob"], { beforeSend: true });
      receiver.respond((r) => {
        if (!r.path.endsWith("/before-send")) return undefined;
        const text = textOf(r.event?.data?.beforeSend?.message);
        const answer =
          text === "bad word"
            ? { action: "BEFORE_SEND_ACTION_REJECT", reason: "no bad words here" }
            : text === "rewrite me"
              ? { action: "BEFORE_SEND_ACTION_MODIFY", elements: [{ text: { text: "rewritten" } }] }
              : { action: "BEFORE_SEND_ACTION_ALLOW" };
        return { body: JSON.stringify(answer) };
      });
      const g = await app.group(GroupType.WORK, "alice", ["bob"]);
      const bob = await app.user("bob").subscribe();
      try {
        const err = await expectError(app.user("alice").send(g, "bad word", { clientMessageId: "c1" }), Code.PermissionDenied, ErrorReason.MESSAGE_REJECTED);
        expect(err.rawMessage).toContain("no bad words here");
        // The rejected client_message_id left no idempotency record: the retry asks again.
        await expectError(app.user("alice").send(g, "bad word", { clientMessageId: "c1" }), Code.PermissionDenied, ErrorReason.MESSAGE_REJECTED);
        const rewritten = await app.user("alice").send(g, "rewrite me");
        expect(textOf(rewritten)).toBe("rewritten");
        await bob.waitFor((item) => item.item.case === "event" && item.item.value.payload.case === "messageReceived");
        await receiver.until((r) => from(r) && r.event?.type === "message.sent");
        await new Promise((r) => setTimeout(r, NEGATIVE_WAIT_MS));
        expect((await app.user("bob").history(g)).map(textOf)).toEqual(["rewritten"]);
        expect(bob.messages.map(textOf)).toEqual(["rewritten"]);
        const sentTexts = receiver.matching((r) => from(r) && r.event?.type === "message.sent").map(sentText);
        expect(sentTexts).toEqual(["rewritten"]);
        // The before-send call carried the message and, for an ordinary message, no audience list.
        const calls = receiver.matching((r) => from(r) && r.event?.type === "message.before_send");
        expect(calls.map((r) => textOf(r.event?.data?.beforeSend?.message))).toEqual(["bad word", "bad word", "rewrite me"]);
        expect(calls[0].event?.data?.beforeSend?.audienceUserIds).toEqual([]);
      } finally {
        bob.close();
        receiver.respond(() => undefined);
      }
    });

    it("a targeted message to 2 of 10 members with 5 offline: push requests go to exactly the offline receiver (HOOK-13)", async () => {
      const members = ids("m", 10);
      const { app, from } = await appWithWebhook(members);
      const g = await app.group(GroupType.WORK, members[0], members.slice(1));
      // Online (a stream that got `ready`, on node b): the sender, one receiver and three others.
      const online = [members[0], members[1], members[3], members[4], members[5]];
      const offline = members.filter((m) => !online.includes(m));
      const streams = await Promise.all(online.map((m) => onNode(nodes.b, app.user(m)).subscribe()));
      try {
        const targeted = await app.user(members[0]).send(g, "for two", {
          receiverIds: [members[1], members[2]],
          offlinePushInfo: { title: "t", description: "d" },
        });
        const marker = await app.user(members[0]).send(g, "for all");
        const pushOf = (m: { messageId: string }) => (r: ReceivedRequest) => from(r) && r.event?.data?.push?.messageId === m.messageId;
        // Every offline member but none online gets the marker's push; then the targeted one's are all in.
        const markerPushes = await receiver.until(pushOf(marker), offline.length);
        await receiver.until(pushOf(targeted), 1);
        await new Promise((r) => setTimeout(r, 3 * NEGATIVE_WAIT_MS));
        expect(markerPushes.map(pushedUser).sort()).toEqual([...offline].sort());
        const targetedPushes = receiver.matching(pushOf(targeted));
        expect(targetedPushes.map(pushedUser)).toEqual([members[2]]);
        expect(targetedPushes[0].event?.data?.push).toMatchObject({ targeted: true, senderId: members[0], offlinePushInfo: { title: "t", description: "d" } });
        // The app backend is told the receivers of the targeted message, and only it.
        const sent = receiver.matching((r) => from(r) && r.event?.type === "message.sent" && sentText(r) === "for two");
        expect(sent.map((r) => r.event?.data?.receiverIds)).toEqual([[members[1], members[2]]]);
      } finally {
        for (const s of streams) s.close();
      }
    });
  });
}

function r0(rs: ReceivedRequest[]): ReceivedRequest {
  return rs[0];
}

function sentText(r: ReceivedRequest): string {
  const p = r.event?.data?.event?.payload;
  return p?.case === "messageReceived" ? textOf(p.value.message) : "";
}

/** The user's client on another node (same token). */
function onNode(node: TestServer, user: UserClient): UserClient {
  return new UserClient(user.id, user.token, node.transport("connect", { token: user.token, sessionManager: node.newSession() }));
}

scenarios(
  "one node (SQLite)",
  async () => {
    const a = await TestServer.start({ webhookRetry: FAST_RETRY });
    return { a, b: a, close: () => a.close() };
  },
  true,
);

const servicesUp = (await postgresAvailable()) && (await natsAvailable(natsUrl()));
const skipTwoNodes = requireOrSkip(servicesUp, "PostgreSQL and NATS (app backends on two nodes)");
scenarios(
  "two nodes (PostgreSQL + NATS)",
  async () => {
    const schema = `nc_hooks_${randomBytes(6).toString("hex")}`;
    await adminSql(`CREATE SCHEMA ${schema}`);
    const subject = `narrowcast.test.${randomBytes(6).toString("hex")}`;
    const node = async () =>
      TestServer.start({
        store: new PostgresStore({ connectionString: postgresUrl(), schema, max: 4 }),
        bus: await NatsBus.connect({ servers: natsUrl(), subject }),
        webhookRetry: FAST_RETRY,
      });
    const a = await node();
    const b = await node();
    return {
      a,
      b,
      async close() {
        await b.close();
        await a.close();
        await adminSql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
  !skipTwoNodes,
);
