// HOOK push requests: one push.requested per member of a stored message's audience who is not its
// sender and has no open event stream, to push_url or url (HOOK-13); and TestWebhook (HOOK-14).
// "Nothing else arrives" needs a wait: deliveries are not ordered, so each case sends a marker
// message after the one under test, waits for the marker's push requests, then listens 1 s more.
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "@narrowcast/gen";
import { WebhookEventType } from "@narrowcast/gen/admin";
import { defineCase } from "../case.js";
import { check, durationMs, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { eventType, webhookId } from "../webhook-receiver.js";
import { deliverySettle, deliveryWaitMs, expectSigned, firstWebhook, isPushOf, isSentOf, pushedUsers, setWebhook, waitForPushes } from "./hook-util.js";

const needs = "webhooks" as const;
const pushTypes = [WebhookEventType.MESSAGE_SENT, WebhookEventType.PUSH_REQUESTED];

export const hookPushCases = [
  defineCase({
    id: "hook-push-targeted",
    rules: ["HOOK-13", "TGT-4", "HOOK-6", "VIS-1"],
    needs,
    requirement:
      "A targeted message to one online and one offline member of a group of 10 (5 other members offline) gets exactly one push.requested, for the offline receiver, at push_url, with the message's group, ID, seq, sender and offline_push_info; none for the online receiver, the non-receivers or the sender, and its message.sent goes to url only.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx));
      const push = ctx.webhookEndpoint("push", deliveryWaitMs(ctx));
      const members = Array.from({ length: 10 }, (_, i) => `m${i}`);
      const w = await ctx.world({ members, others: [] });
      const { secret } = await firstWebhook(ctx, w.app.appId, { url: url.url, pushUrl: push.url, eventTypes: pushTypes });
      // Online: the receiver m1 and the non-receivers m8, m9. Offline: the sender m0, the receiver m2, m3 to m7.
      for (const id of ["m1", "m8", "m9"]) await w.user(id).subscribe();
      const offlinePushInfo = { title: "for you", description: "a targeted message", extension: "ext-1" };
      const targeted = await w.user("m0").send(w.groupId, { text: "targeted", receiverIds: ["m1", "m2"], offlinePushInfo });
      await url.waitFor("the targeted message's message.sent", isSentOf(targeted.messageId));
      await push.waitFor("push.requested of the targeted message for m2", isPushOf(targeted.messageId, "m2"));
      const marker = await w.user("m0").send(w.groupId, "marker");
      const offline = ["m2", "m3", "m4", "m5", "m6", "m7"];
      await waitForPushes(push, marker.messageId, offline, "the marker");
      await deliverySettle(ctx);

      expectEqual(pushedUsers(push, targeted.messageId), ["m2"], "users pushed for the targeted message");
      const p = push.requests.find(isPushOf(targeted.messageId, "m2"))!.event!.data!.push!;
      expectEqual(
        { groupId: p.groupId, messageId: p.messageId, seq: Number(p.seq), senderId: p.senderId, targeted: p.targeted, info: [p.offlinePushInfo?.title, p.offlinePushInfo?.description, p.offlinePushInfo?.extension] },
        { groupId: w.groupId, messageId: targeted.messageId, seq: Number(targeted.seq), senderId: "m0", targeted: true, info: [offlinePushInfo.title, offlinePushInfo.description, offlinePushInfo.extension] },
        "the targeted message's push request",
      );
      expectEqual(pushedUsers(push, marker.messageId), offline, "users pushed for the ordinary marker (offline members but the sender)");
      expectEqual(push.requests.find(isPushOf(marker.messageId))?.event?.data?.push?.targeted, false, "push.targeted of an ordinary message");
      check(!url.requests.some((r) => eventType(r) === "push.requested"), "a push request went to url although push_url is set", "none at url", url.describeRequests());
      check(!push.requests.some((r) => eventType(r) !== "push.requested"), "push_url got something else than push requests", "push.requested only", push.describeRequests());
      expectSigned([...url.requests, ...push.requests], secret);
    },
  }),
  defineCase({
    id: "hook-push-ordinary",
    rules: ["HOOK-13", "HOOK-6"],
    needs,
    requirement:
      "An ordinary or system message gets a push.requested (to url when push_url is empty) for every offline member but its sender and none for online ones; exclude_from_unread gets none unless push_excluded_from_unread, online-only gets none, and push_url is used once set.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx));
      const w = await ctx.world({ members: ["a0", "a1", "a2", "a3", "a4"], others: [] });
      const appId = w.app.appId;
      const { secret } = await firstWebhook(ctx, appId, { url: url.url, eventTypes: pushTypes });
      await w.user("a1").subscribe();
      const a0 = w.user("a0");
      const ordinary = await a0.send(w.groupId, "ordinary");
      const excluded = await a0.send(w.groupId, { text: "excluded", excludeFromUnread: true });
      const ephemeral = await a0.send(w.groupId, { text: "online only", onlineOnly: true });
      const system = await w.app.adminSend("", w.groupId, "system");
      await waitForPushes(url, ordinary.messageId, ["a2", "a3", "a4"], "the ordinary message");
      await waitForPushes(url, system.messageId, ["a0", "a2", "a3", "a4"], "the system message");
      await deliverySettle(ctx);
      expectEqual(pushedUsers(url, ordinary.messageId), ["a2", "a3", "a4"], "users pushed for the ordinary message");
      expectEqual(pushedUsers(url, system.messageId), ["a0", "a2", "a3", "a4"], "users pushed for the system message (no sender to leave out)");
      expectEqual(url.requests.find(isPushOf(system.messageId))?.event?.data?.push?.senderId, "", "push.sender_id of a system message");
      expectEqual(pushedUsers(url, excluded.messageId), [], "users pushed for an exclude_from_unread message");
      expectEqual(pushedUsers(url, ephemeral.messageId), [], "users pushed for an online-only message");

      const push = ctx.webhookEndpoint("push", deliveryWaitMs(ctx));
      await setWebhook(ctx, appId, { url: url.url, pushUrl: push.url, eventTypes: pushTypes, pushExcludedFromUnread: true });
      const excludedToo = await a0.send(w.groupId, { text: "excluded, pushed", excludeFromUnread: true });
      await waitForPushes(push, excludedToo.messageId, ["a2", "a3", "a4"], "an exclude_from_unread message with push_excluded_from_unread");
      await url.waitFor("its message.sent", isSentOf(excludedToo.messageId));
      await deliverySettle(ctx);
      expectEqual(pushedUsers(push, excludedToo.messageId), ["a2", "a3", "a4"], "users pushed at push_url");
      expectEqual(pushedUsers(url, excludedToo.messageId), [], "push requests at url once push_url is set");
      expectSigned([...url.requests, ...push.requests], secret);
    },
  }),
  defineCase({
    id: "hook-test-webhook",
    rules: ["HOOK-14", "HOOK-4", "HOOK-5"],
    needs,
    requirement:
      "TestWebhook sends one signed webhook.test to url at once and returns the status it got (200 with no error; 500 with an error; 0 with an error when the connection drops), never retried nor recorded as a dead letter.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url");
      const app = await ctx.createApp();
      const appId = app.appId;
      const { secret } = await firstWebhook(ctx, appId, { url: url.url, eventTypes: [WebhookEventType.MESSAGE_SENT] });
      const ok = await ctx.admin.testWebhook({ appId });
      expectEqual([ok.httpStatus, ok.error], [200, ""], "TestWebhook against an endpoint answering 200 (http_status, error)");
      check(durationMs(ok.latency) !== undefined, "TestWebhook returned no latency");
      expectEqual(url.requests.map(eventType), ["webhook.test"], "requests the endpoint got when TestWebhook returned");
      expectSigned(url.requests, secret);
      expectEqual(url.requests[0]!.event?.data?.appId, appId, "data.app_id of webhook.test");

      url.answer({ status: 500 });
      const failed = await ctx.admin.testWebhook({ appId });
      expectEqual(failed.httpStatus, 500, "TestWebhook's http_status against an endpoint answering 500");
      check(failed.error !== "", "TestWebhook against an endpoint answering 500 returned no error", "what went wrong", JSON.stringify(failed.error));
      url.answer({ hangUp: true });
      const dropped = await ctx.admin.testWebhook({ appId });
      expectEqual(dropped.httpStatus, 0, "TestWebhook's http_status when the endpoint drops the connection");
      check(dropped.error !== "", "TestWebhook against an endpoint that drops the connection returned no error", "what went wrong", JSON.stringify(dropped.error));
      await deliverySettle(ctx);
      // Counted by webhook-id: an HTTP client resending on a dropped connection is not a retry.
      expectEqual(new Set(url.requests.map(webhookId)).size, 3, "distinct webhook.test deliveries after three TestWebhook calls (none retried)");
      expectEqual((await ctx.admin.listDeadLetters({ appId })).deadLetters.length, 0, "dead letters after failed tests (none recorded)");
      await ctx.admin.deleteWebhook({ appId });
      await expectError(ctx.admin.testWebhook({ appId }), Code.NotFound, ErrorReason.WEBHOOK_NOT_FOUND, { what: "TestWebhook after DeleteWebhook" });
    },
  }),
];
