// HOOK event deliveries: signed requests and their bodies (HOOK-4, HOOK-5), which events are
// delivered (HOOK-6), at-least-once with retries (HOOK-7, HOOK-8).
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { WebhookEventType } from "@narrowcast/gen/admin";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { retryDelayBoundMs } from "../settings.js";
import { eventType, webhookId, type ReceivedRequest } from "../webhook-receiver.js";
import { dataOf, deliverySettle, deliveryWaitMs, eventTypes, expectNoRequestMentioning, expectSigned, expectTypes, firstWebhook, isPushOf, isSentOf, sentMessage } from "./hook-util.js";

const needs = "webhooks" as const;

/** A value at a path of parsed JSON, for checks on the JSON mapping itself. */
function at(json: unknown, ...path: string[]): unknown {
  let v = json;
  for (const key of path) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

/** The distinct webhook-ids of requests (an at-least-once delivery may arrive more than once). */
function distinct(requests: readonly ReceivedRequest[]): ReceivedRequest[] {
  const seen = new Set<string>();
  return requests.filter((r) => !seen.has(webhookId(r)) && (seen.add(webhookId(r)), true));
}

export const hookDeliveryCases = [
  defineCase({
    id: "hook-signature",
    rules: ["HOOK-4", "HOOK-5"],
    needs,
    requirement:
      "Every request to the app's endpoints (before-send, message.sent, push.requested, webhook.test) is a POST of application/json signed as Standard Webhooks specifies (verified with the standardwebhooks library) with its own webhook-id, and its body is a WebhookEvent in the proto3 JSON mapping with the right type, data.app_id and an event with an empty cursor.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx));
      const push = ctx.webhookEndpoint("push", deliveryWaitMs(ctx));
      const beforeSend = ctx.webhookEndpoint("before-send");
      beforeSend.answer({ body: { action: "BEFORE_SEND_ACTION_ALLOW" } });
      const w = await ctx.world();
      const appId = w.app.appId;
      const { secret } = await firstWebhook(ctx, appId, {
        url: url.url,
        pushUrl: push.url,
        beforeSendUrl: beforeSend.url,
        eventTypes: [...eventTypes, WebhookEventType.PUSH_REQUESTED],
      });
      const m = await w.user("alice").send(w.groupId, "signed everywhere");
      const sent = await url.waitFor("the message's message.sent", isSentOf(m.messageId));
      await push.waitForCount("push.requested for bob and carol", 2, isPushOf(m.messageId));
      expectEqual((await ctx.admin.testWebhook({ appId })).httpStatus, 200, "TestWebhook's http_status");
      await url.waitFor("the webhook.test", (r) => eventType(r) === "webhook.test");

      const all = [...beforeSend.requests, ...url.requests, ...push.requests];
      expectSigned(all, secret);
      expectEqual(beforeSend.requests.map(eventType), ["message.before_send"], "types of the before-send requests");
      for (const r of all) {
        expectEqual(dataOf(r).appId, appId, `data.app_id of a ${eventType(r)}`);
        check(typeof at(r.json, "data", "appId") === "string", `a ${eventType(r)} body does not use the lowerCamelCase JSON names`, "data.appId", r.body.slice(0, 200));
        check(typeof at(r.json, "timestamp") === "string", `a ${eventType(r)} body has no RFC 3339 timestamp`, "timestamp: string", String(at(r.json, "timestamp")));
      }
      const ids = all.map(webhookId);
      expectEqual(new Set(ids).size, ids.length, "distinct webhook-ids of distinct deliveries");
      expectEqual(dataOf(sent).event?.cursor, "", "data.event.cursor of message.sent");
      expectEqual(at(sent.json, "data", "event", "messageReceived", "message", "seq"), String(m.seq), "message.sent's seq in the JSON mapping (a 64-bit integer as a string)");
      const p = push.requests.find(isPushOf(m.messageId))!;
      expectEqual(at(p.json, "data", "push", "seq"), String(m.seq), "push.requested's seq in the JSON mapping");
      expectEqual(dataOf(url.requests.find((r) => eventType(r) === "webhook.test")!).event, undefined, "data.event of webhook.test");
    },
  }),
  defineCase({
    id: "hook-events",
    rules: ["HOOK-6", "HOOK-5", "TGT-4"],
    needs,
    requirement:
      "message.sent (ordinary, targeted with receiver_ids, system), message.recalled, member.joined, member.left and group.dismissed are delivered for the events committed; online-only and AVCHATROOM messages and a rejected send deliver nothing.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx));
      const w = await ctx.world({ members: ["alice", "bob", "carol"], others: ["dave", "erin"] });
      const appId = w.app.appId;
      const room = await w.app.createGroup(GroupType.AVCHATROOM, { owner: "alice", members: ["bob"], groupId: "room" });
      const { secret } = await firstWebhook(ctx, appId, { url: url.url, eventTypes });
      const alice = w.user("alice");
      const ordinary = await alice.send(w.groupId, "ordinary");
      const targeted = await alice.send(w.groupId, { text: "targeted", receiverIds: ["bob"] });
      // Recalled at once: the sender's recall window may be a few seconds (MSG-11).
      await alice.messages.recallMessage({ groupId: w.groupId, messageId: targeted.messageId });
      const system = await w.app.adminSend("", w.groupId, "system");
      const online = await alice.send(w.groupId, { text: "online only", onlineOnly: true });
      const live = await alice.send(room, "in the room");
      await expectError(w.user("erin").send(w.groupId, "rejected-send-marker"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, { what: "a non-member's send" });
      await ctx.admin.addMembers({ appId, groupId: w.groupId, userIds: ["dave"] });
      await ctx.admin.removeMembers({ appId, groupId: w.groupId, userIds: ["dave"] });
      await ctx.admin.dismissGroup({ appId, groupId: w.groupId });

      for (const [what, m, receivers] of [["ordinary", ordinary, []], ["targeted", targeted, ["bob"]], ["system", system, []]] as const) {
        const r = await url.waitFor(`message.sent of the ${what} message`, isSentOf(m.messageId));
        expectEqual(dataOf(r).receiverIds, [...receivers], `receiver_ids of the ${what} message's message.sent`);
        expectEqual(sentMessage(r)?.seq, m.seq, `seq in the ${what} message's message.sent`);
      }
      const recalled = await url.waitFor("message.recalled of the targeted message", (r) => {
        const p = r.event?.data?.event?.payload;
        return eventType(r) === "message.recalled" && p?.case === "messageRecalled" && p.value.messageId === targeted.messageId;
      });
      expectEqual(dataOf(recalled).receiverIds, ["bob"], "receiver_ids of the targeted message's message.recalled");
      await url.waitFor("member.joined of dave", (r) => {
        const p = r.event?.data?.event?.payload;
        return eventType(r) === "member.joined" && p?.case === "memberJoined" && p.value.member?.userId === "dave" && p.value.groupId === w.groupId;
      });
      await url.waitFor("member.left of dave", (r) => {
        const p = r.event?.data?.event?.payload;
        return eventType(r) === "member.left" && p?.case === "memberLeft" && p.value.userId === "dave" && p.value.groupId === w.groupId;
      });
      await url.waitFor("group.dismissed", (r) => {
        const p = r.event?.data?.event?.payload;
        return eventType(r) === "group.dismissed" && p?.case === "groupDismissed" && p.value.groupId === w.groupId;
      });
      await deliverySettle(ctx);
      expectSigned(url.requests, secret);
      for (const [what, m] of [["an online-only message", online], ["an AVCHATROOM message", live]] as const) {
        check(!url.requests.some(isSentOf(m.messageId)), `message.sent was delivered for ${what}, which is not stored`, "no delivery", url.describeRequests());
      }
      expectNoRequestMentioning(url, "rejected-send-marker", "a rejected send");
      const sentOnce = distinct(url.ofType("message.sent")).map((r) => sentMessage(r)?.messageId).sort();
      expectEqual(sentOnce, [ordinary.messageId, targeted.messageId, system.messageId].sort(), "the messages delivered as message.sent (each webhook-id once)");
    },
  }),
  defineCase({
    id: "hook-events-filtered",
    rules: ["HOOK-6", "HOOK-13"],
    needs,
    requirement: "Only the event types the webhook lists are delivered: with member.left alone, a send, a recall, a join and a dismissal deliver nothing, and offline members get no push request.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx));
      const w = await ctx.world({ others: ["dave"] });
      const appId = w.app.appId;
      const { secret } = await firstWebhook(ctx, appId, { url: url.url, eventTypes: [WebhookEventType.MEMBER_LEFT] });
      const m = await w.user("alice").send(w.groupId, "not listed");
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: m.messageId });
      await ctx.admin.addMembers({ appId, groupId: w.groupId, userIds: ["dave"] });
      await ctx.admin.removeMembers({ appId, groupId: w.groupId, userIds: ["dave"] });
      await url.waitFor("member.left of dave", (r) => eventType(r) === "member.left");
      await ctx.admin.dismissGroup({ appId, groupId: w.groupId });
      await deliverySettle(ctx);
      expectSigned(url.requests, secret);
      expectTypes(url, ["member.left"], "a webhook listing member.left only");
    },
  }),
  defineCase({
    id: "hook-retry",
    rules: ["HOOK-7", "HOOK-8", "HOOK-4"],
    needs,
    requirement:
      "A delivery answered 503 is retried with the same webhook-id until it gets a 2xx (503 three times, then 200: four attempts, fewer when max attempts is lower), each retry at least half its backoff after the failure, and not again after the success.",
    async run(ctx) {
      const max = ctx.webhooks.maxAttempts;
      if (max < 2) ctx.skip(`the server makes ${max} attempt per delivery: nothing to retry`);
      const failures = Math.min(3, max - 1);
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx, failures + 1));
      url.answer((_, index) => ({ status: index < failures ? 503 : 200 }));
      const w = await ctx.world();
      const { secret } = await firstWebhook(ctx, w.app.appId, { url: url.url, eventTypes: [WebhookEventType.MESSAGE_SENT] });
      const m = await w.user("alice").send(w.groupId, "retried");
      const attempts = await url.waitForCount("attempts of the message's delivery", failures + 1, isSentOf(m.messageId));
      expectSigned(attempts, secret);
      expectEqual(new Set(attempts.map(webhookId)).size, 1, "distinct webhook-ids over the attempts of one delivery");
      for (let n = 1; n <= failures; n++) {
        const waited = attempts[n]!.receivedAt - (attempts[n - 1]!.answeredAt ?? attempts[n - 1]!.receivedAt);
        const least = retryDelayBoundMs(ctx.webhooks, n) / 2;
        // 20 ms for the two clocks' readings; a slow machine only makes the wait longer.
        check(waited >= least - 20, `retry ${n} came too early`, `at least d/2 = ${least} ms after the failure (HOOK-8)`, `${waited} ms`);
      }
      await deliverySettle(ctx);
      expectEqual(url.requests.length, failures + 1, "attempts once the delivery succeeded");
    },
  }),
  defineCase({
    id: "hook-max-concurrent",
    rules: ["HOOK-8"],
    needs,
    requirement: "With max_concurrent_deliveries 1, at most one attempt to the endpoint is in flight at a time on each node, even while deliveries queue up.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx) + 4 * 300);
      url.answer({ delayMs: 300 });
      const w = await ctx.world();
      const { secret } = await firstWebhook(ctx, w.app.appId, { url: url.url, eventTypes: [WebhookEventType.MESSAGE_SENT], maxConcurrentDeliveries: 1 });
      const sent = await w.app.sendMany("alice", w.groupId, 4);
      for (const m of sent) await url.waitFor(`message ${m.seq}'s message.sent`, isSentOf(m.messageId));
      expectSigned(url.requests, secret);
      check(url.maxInFlight <= ctx.nodeCount, "more attempts in flight to one endpoint than max_concurrent_deliveries allows", `at most 1 per node (${ctx.nodeCount} node(s))`, `${url.maxInFlight} at once`);
    },
  }),
];
