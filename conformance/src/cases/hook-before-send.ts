// HOOK before-send: the app's backend allows, rejects or rewrites a message before it is stored
// (HOOK-10, HOOK-11), and a backend that fails is handled by the failure action (HOOK-12).
import { Code } from "@connectrpc/connect";
import { ErrorReason, type Message } from "@narrowcast/gen";
import { BeforeSendFailureAction, WebhookEventType } from "@narrowcast/gen/admin";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { checkError, expectError } from "../errors.js";
import { isMessage, isMessageIn, receivedMessage } from "../events.js";
import { fence } from "../fixtures.js";
import type { Answer } from "../webhook-receiver.js";
import { expectInvisible, expectSeqs, expectUnread, rejection, seqsOf } from "./util.js";
import { dataOf, deliverySettle, deliveryWaitMs, expectSigned, firstWebhook, isSentOf, sentMessage, setWebhook } from "./hook-util.js";

const needs = "webhooks" as const;

/** The text of a message's first element ("" when it is not text). */
function textOf(m: Message | undefined): string {
  const e = m?.elements[0]?.element;
  return e?.case === "text" ? e.value.text : "";
}

const allow: Answer = { body: { action: "BEFORE_SEND_ACTION_ALLOW" } };
const reject = (reason: string): Answer => ({ body: { action: "BEFORE_SEND_ACTION_REJECT", reason } });
const modify = (text: string): Answer => ({ body: { action: "BEFORE_SEND_ACTION_MODIFY", elements: [{ text: { text } }] } });

export const hookBeforeSendCases = [
  defineCase({
    id: "hook-before-send-reject",
    rules: ["HOOK-11", "HOOK-10", "HOOK-4"],
    needs,
    requirement:
      "A before-send REJECT fails the send with PermissionDenied MESSAGE_REJECTED carrying the backend's reason (at most 256 characters) and leaves no trace: no history, no event, no message.sent, no unread, no seq, no idempotency record (a retry with the same client_message_id asks again); the call carries the message (no ID, seq 0) and no audience_user_ids for an ordinary message.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx));
      const beforeSend = ctx.webhookEndpoint("before-send");
      const w = await ctx.world();
      const { secret } = await firstWebhook(ctx, w.app.appId, { url: url.url, beforeSendUrl: beforeSend.url, eventTypes: [WebhookEventType.MESSAGE_SENT] });
      const bob = await w.user("bob").subscribe();
      const alice = w.user("alice");
      const request = { text: "first try", clientMessageId: "cm-before-send" };

      const reason = "links are not allowed here";
      beforeSend.answer(reject(reason));
      const first = await rejection(alice.send(w.groupId, request), "a send the backend rejects");
      checkError(first, Code.PermissionDenied, ErrorReason.MESSAGE_REJECTED, {}, "a send the backend rejects");
      expectEqual(first.message, reason, "the MESSAGE_REJECTED message (the backend's reason)");
      const call = beforeSend.requests[0]!;
      expectEqual(call.event?.type, "message.before_send", "the before-send request's type");
      const asked = dataOf(call).beforeSend;
      expectEqual(
        [asked?.message?.messageId, Number(asked?.message?.seq), asked?.message?.groupId, asked?.message?.senderId, asked?.message?.clientMessageId, textOf(asked?.message), asked?.message?.serverTime !== undefined, asked?.audienceUserIds],
        ["", 0, w.groupId, "alice", request.clientMessageId, request.text, true, []],
        "the before-send request's message (ID, seq, group, sender, client_message_id, text, server_time set) and audience_user_ids",
      );

      const long = `${"r".repeat(250)}${"s".repeat(50)}`;
      beforeSend.answer(reject(long));
      const second = await rejection(alice.send(w.groupId, request), "a retry with the same client_message_id, rejected again");
      checkError(second, Code.PermissionDenied, ErrorReason.MESSAGE_REJECTED, {}, "the rejected retry");
      check(second.message.length <= 256 && long.startsWith(second.message) && second.message.length >= 250, "the MESSAGE_REJECTED message is not the backend's reason cut to at most 256 characters", long.slice(0, 256), second.message);
      expectEqual(beforeSend.requests.length, 2, "before-send calls after a retry of a rejected send (no idempotency record)");
      await expectUnread(w.user("bob"), w.groupId, 0, "after two rejected sends");
      expectSeqs(await w.user("bob").history(w.groupId), [], "history after two rejected sends");

      beforeSend.answer(allow);
      const stored = await alice.send(w.groupId, request);
      expectEqual([Number(stored.seq), textOf(stored)], [1, request.text], "the allowed retry (seq 1: the rejections consumed none)");
      const replayed = await alice.send(w.groupId, request);
      expectEqual(replayed.messageId, stored.messageId, "an idempotent replay of the allowed send");
      expectEqual(beforeSend.requests.length, 3, "before-send calls (an idempotent replay asks nothing)");
      const later = await alice.send(w.groupId, "later");
      await bob.expectNone("a second message before the later one", (e) => isMessageIn(w.groupId)(e) && !isMessage(stored.messageId)(e) && !isMessage(later.messageId)(e), fence(later));
      expectEqual(bob.events.filter(isMessageIn(w.groupId)).map((e) => Number(receivedMessage(e)?.seq)), [1, 2], "the messages bob's stream got");
      await url.waitFor("the later message's message.sent", isSentOf(later.messageId));
      await deliverySettle(ctx);
      expectEqual(url.requests.map((r) => Number(sentMessage(r)?.seq)).sort(), [1, 2], "seqs of the message.sent deliveries (none for the rejected sends)");
      expectSigned([...beforeSend.requests, ...url.requests], secret);
    },
  }),
  defineCase({
    id: "hook-before-send-modify",
    rules: ["HOOK-11", "HOOK-10", "HOOK-6", "TGT-4"],
    needs,
    requirement:
      "A before-send MODIFY replaces the content only: the stored, streamed and delivered message carries the rewrite, and its receivers and mentions stay as sent; a targeted message's call names its receivers and sender in audience_user_ids.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx));
      const beforeSend = ctx.webhookEndpoint("before-send");
      beforeSend.answer(modify("rewritten by the backend"));
      const w = await ctx.world();
      const { secret } = await firstWebhook(ctx, w.app.appId, { url: url.url, beforeSendUrl: beforeSend.url, eventTypes: [WebhookEventType.MESSAGE_SENT] });
      const bob = await w.user("bob").subscribe();
      const carol = await w.user("carol").subscribe();
      const alice = w.user("alice");

      const targeted = await alice.send(w.groupId, { text: "original", receiverIds: ["bob"] });
      expectEqual([textOf(targeted), targeted.receiverIds], ["rewritten by the backend", ["bob"]], "the targeted send's response (text, receivers)");
      const asked = dataOf(beforeSend.requests[0]!).beforeSend;
      expectEqual([[...(asked?.audienceUserIds ?? [])].sort(), asked?.message?.receiverIds, textOf(asked?.message)], [["alice", "bob"], ["bob"], "original"], "the targeted before-send call (audience_user_ids, receivers, text)");
      const live = await bob.waitFor("the targeted message", isMessage(targeted.messageId));
      expectEqual(textOf(receivedMessage(live)), "rewritten by the backend", "the text bob's stream got");

      beforeSend.answer(modify("mention rewritten"));
      const mention = await alice.send(w.groupId, { text: "hey carol", mentionedUserIds: ["carol"] });
      expectEqual([textOf(mention), mention.mentionedUserIds], ["mention rewritten", ["carol"]], "the ordinary send's response (text, mentions)");
      expectEqual(dataOf(beforeSend.requests[1]!).beforeSend?.audienceUserIds, [], "audience_user_ids of an ordinary message's before-send call");
      await carol.expectNone("the targeted message", isMessage(targeted.messageId), fence(mention));
      await expectInvisible(w.user("carol"), w.groupId, targeted, "a targeted message rewritten by the backend");
      const history = await w.user("bob").history(w.groupId);
      expectEqual(history.map(textOf), ["rewritten by the backend", "mention rewritten"], "bob's history");
      expectEqual(seqsOf(history), [1, 2], "bob's history seqs");

      const delivered = await url.waitFor("the targeted message's message.sent", isSentOf(targeted.messageId));
      expectEqual([textOf(sentMessage(delivered)), dataOf(delivered).receiverIds], ["rewritten by the backend", ["bob"]], "the targeted message.sent (text, receiver_ids)");
      const other = await url.waitFor("the mention's message.sent", isSentOf(mention.messageId));
      expectEqual([textOf(sentMessage(other)), sentMessage(other)?.mentionedUserIds], ["mention rewritten", ["carol"]], "the mention's message.sent (text, mentions)");
      expectSigned([...beforeSend.requests, ...url.requests], secret);
    },
  }),
  defineCase({
    id: "hook-before-send-failure",
    rules: ["HOOK-12", "HOOK-11"],
    needs,
    requirement:
      "A before-send call that times out (before_send_timeout 300 ms), answers 500, answers something that is not a BeforeSendResponse, an unspecified action, or a MODIFY breaking MSG-3 fails the send with Unavailable APP_BACKEND_UNAVAILABLE (with RetryInfo) and stores nothing when the failure action is REJECT, and sends the message unchanged when it is ALLOW.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url");
      const beforeSend = ctx.webhookEndpoint("before-send");
      const w = await ctx.world();
      const config = { url: url.url, beforeSendUrl: beforeSend.url, beforeSendTimeout: { seconds: 0n, nanos: 300_000_000 } };
      const { secret } = await firstWebhook(ctx, w.app.appId, { ...config, beforeSendFailureAction: BeforeSendFailureAction.REJECT });
      const failures: [string, Answer][] = [
        ["an answer after the timeout", { ...allow, delayMs: 2000 }],
        ["status 500", { status: 500, body: allow.body }],
        ["a body that is not JSON", { body: "this is not JSON" }],
        ["an unspecified action", { body: {} }],
        ["a MODIFY with no elements (MSG-3)", { body: { action: "BEFORE_SEND_ACTION_MODIFY", elements: [] } }],
      ];
      const alice = w.user("alice");
      for (const [what, answer] of failures) {
        beforeSend.answer(answer);
        await expectError(alice.send(w.groupId, `rejected: ${what}`), Code.Unavailable, ErrorReason.APP_BACKEND_UNAVAILABLE, { what: `a send whose before-send call got ${what} (failure action REJECT)` });
      }
      expectSeqs(await w.user("bob").history(w.groupId), [], "history after the failed before-send calls with REJECT");

      await setWebhook(ctx, w.app.appId, { ...config, beforeSendFailureAction: BeforeSendFailureAction.ALLOW });
      const sent: string[] = [];
      for (const [what, answer] of failures) {
        beforeSend.answer(answer);
        const text = `allowed: ${what}`;
        const m = await alice.send(w.groupId, text);
        expectEqual(textOf(m), text, `the message sent when the before-send call got ${what} (failure action ALLOW)`);
        sent.push(text);
      }
      const history = await w.user("bob").history(w.groupId);
      expectEqual(history.map(textOf), sent, "history after the failed before-send calls with ALLOW (unchanged)");
      expectSeqs(history, [1, 2, 3, 4, 5], "their seqs");
      expectSigned(beforeSend.requests, secret);
      check(beforeSend.requests.length >= 2 * failures.length, "a send did not call the before-send endpoint", `at least ${2 * failures.length} calls`, String(beforeSend.requests.length));
    },
  }),
];
