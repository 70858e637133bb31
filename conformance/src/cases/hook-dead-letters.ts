// HOOK dead letters: a delivery that failed every attempt is listed (newest first, paged) and can
// be replayed with the same webhook-id (HOOK-9).
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "@narrowcast/gen";
import { WebhookEventType, type DeadLetter } from "@narrowcast/gen/admin";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { retriesBoundMs } from "../settings.js";
import { sleep } from "../subscription.js";
import { webhookId } from "../webhook-receiver.js";
import { deliveryWaitMs, expectSigned, firstWebhook, isSentOf, setWebhook } from "./hook-util.js";

/**
 * The longest the retries of one delivery may take for this case to run: it waits out dead
 * letters three times one after the other, within the suite's 30 s per case.
 */
const deadLetterBudgetMs = 6_000;

function millis(t: { seconds: bigint; nanos: number } | undefined): number {
  return t === undefined ? Number.NaN : Number(t.seconds) * 1000 + t.nanos / 1e6;
}

export const hookDeadLetterCases = [
  defineCase({
    id: "hook-dead-letters",
    rules: ["HOOK-9", "HOOK-8", "HOOK-2", "PAG-1"],
    needs: "webhooks",
    requirement:
      "After max attempts a delivery is a dead letter: ListDeadLetters lists it newest first, paged, with its webhook-id, type, url, attempts, last_error, times and body; ReplayDeadLetters redelivers the named ones (or all) with the same webhook-id and a fresh count of attempts, rejects unknown IDs with DEAD_LETTER_NOT_FOUND naming them and replays none, and more than 1,000 IDs with FIELD_INVALID; DeleteWebhook removes dead letters.",
    async run(ctx) {
      const max = ctx.webhooks.maxAttempts;
      const budget = retriesBoundMs(ctx.webhooks, max);
      if (budget > deadLetterBudgetMs) {
        ctx.skip(`with the stated retry settings (--webhook-retry-base-ms, --webhook-retry-cap-ms, --webhook-max-attempts) a dead letter takes up to ${budget / 1000} s of retries; this case needs at most ${deadLetterBudgetMs / 1000} s`);
      }
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx, max));
      url.answer({ status: 500 });
      const w = await ctx.world();
      const appId = w.app.appId;
      const { secret } = await firstWebhook(ctx, appId, { url: url.url, eventTypes: [WebhookEventType.MESSAGE_SENT] });
      const m1 = await w.user("alice").send(w.groupId, "dead letter 1");
      await url.waitFor("the first attempt of message 1's delivery", isSentOf(m1.messageId));
      const m2 = await w.user("alice").send(w.groupId, "dead letter 2");
      const a1 = await url.waitForCount("attempts of message 1's delivery", max, isSentOf(m1.messageId));
      const a2 = await url.waitForCount("attempts of message 2's delivery", max, isSentOf(m2.messageId));
      const id1 = webhookId(a1[0]!);
      const id2 = webhookId(a2[0]!);

      // The last attempt's failure is recorded once it is answered: poll for both dead letters.
      const list = async (pageSize = 0, pageToken = "") => ctx.admin.listDeadLetters({ appId, pageSize, pageToken });
      let letters: DeadLetter[] = [];
      const deadline = Date.now() + ctx.wait.timeoutMs * 2;
      while (Date.now() < deadline) {
        letters = (await list()).deadLetters;
        if (letters.length >= 2) break;
        await sleep(100);
      }
      expectEqual(letters.map((d) => d.deliveryId), [id2, id1], "ListDeadLetters' delivery_ids (newest first)");
      const d1 = letters[1]!;
      expectEqual([d1.type, d1.url, d1.attempts], ["message.sent", url.url, max], "dead letter 1's type, url and attempts");
      check(d1.lastError !== "", "dead letter 1 has no last_error", "what went wrong (e.g. the status 500)", JSON.stringify(d1.lastError));
      check(millis(d1.createTime) <= millis(d1.lastAttemptTime), "dead letter 1's create_time is not before its last_attempt_time", "create_time ≤ last_attempt_time", `${millis(d1.createTime)} / ${millis(d1.lastAttemptTime)}`);
      check(d1.body.includes(m1.messageId) && (JSON.parse(d1.body) as { type?: string }).type === "message.sent", "dead letter 1's body is not its delivery's WebhookEvent", "the message.sent body", d1.body.slice(0, 200));
      const page1 = await list(1);
      check(page1.nextPageToken !== "", "ListDeadLetters with page_size 1 of two returned no next_page_token");
      const page2 = await list(1, page1.nextPageToken);
      expectEqual([...page1.deadLetters, ...page2.deadLetters].map((d) => d.deliveryId), [id2, id1], "ListDeadLetters page by page");
      expectEqual(page2.nextPageToken, "", "the last page's next_page_token");

      url.answer({ status: 200 });
      expectEqual((await ctx.admin.replayDeadLetters({ appId, deliveryIds: [id1] })).replayedCount, 1, "replayed_count of ReplayDeadLetters naming one");
      await url.waitForCount("message 1's delivery replayed with its webhook-id", max + 1, (r) => webhookId(r) === id1);
      expectEqual((await list()).deadLetters.map((d) => d.deliveryId), [id2], "dead letters after replaying message 1's");

      await expectError(ctx.admin.replayDeadLetters({ appId, deliveryIds: ["dl-unknown-1", id2, id1, "dl-unknown-2"] }), Code.NotFound, ErrorReason.DEAD_LETTER_NOT_FOUND, {
        ids: ["dl-unknown-1", id1, "dl-unknown-2"],
        what: "ReplayDeadLetters naming IDs that are not dead letters (one replayed and delivered)",
      });
      const ids1001 = Array.from({ length: 1001 }, (_, i) => (i === 0 ? id2 : `dl-${i}`));
      await expectError(ctx.admin.replayDeadLetters({ appId, deliveryIds: ids1001 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "delivery_ids", what: "ReplayDeadLetters with 1,001 IDs" });
      expectEqual((await list()).deadLetters.map((d) => d.deliveryId), [id2], "dead letters after the rejected replays (none replayed)");

      expectEqual((await ctx.admin.replayDeadLetters({ appId, deliveryIds: [] })).replayedCount, 1, "replayed_count of ReplayDeadLetters of all (message 2's)");
      await url.waitForCount("message 2's delivery replayed with its webhook-id", max + 1, (r) => webhookId(r) === id2);
      expectEqual((await list()).deadLetters.length, 0, "dead letters after replaying all");
      expectSigned(url.requests, secret);

      // Another dead letter, then DeleteWebhook: a new webhook starts with none.
      url.answer({ status: 500 });
      const m3 = await w.user("alice").send(w.groupId, "dead letter 3");
      await url.waitForCount("attempts of message 3's delivery", max, isSentOf(m3.messageId));
      const until3 = Date.now() + ctx.wait.timeoutMs * 2;
      while (Date.now() < until3 && (await list()).deadLetters.length === 0) await sleep(100);
      expectEqual((await list()).deadLetters.length, 1, "dead letters once message 3's delivery failed every attempt");
      // A replay starts the count of attempts afresh: with the endpoint still failing, it makes
      // max more attempts (same webhook-id) and is a dead letter again with attempts = max.
      const id3 = webhookId((await url.waitForCount("attempts of message 3's delivery", max, isSentOf(m3.messageId)))[0]!);
      expectEqual((await ctx.admin.replayDeadLetters({ appId, deliveryIds: [id3] })).replayedCount, 1, "replayed_count of message 3's dead letter");
      await url.waitForCount("message 3's replayed delivery failing every attempt again", 2 * max, (r) => webhookId(r) === id3);
      let again: DeadLetter[] = [];
      const until3b = Date.now() + ctx.wait.timeoutMs * 2;
      while (Date.now() < until3b && (again = (await list()).deadLetters).length === 0) await sleep(100);
      expectEqual(again.map((d) => [d.deliveryId, d.attempts]), [[id3, max]], "message 3's dead letter after a replay that failed every attempt (a fresh count)");
      await ctx.admin.deleteWebhook({ appId });
      await setWebhook(ctx, appId, { url: url.url, eventTypes: [WebhookEventType.MESSAGE_SENT] });
      expectEqual((await list()).deadLetters.length, 0, "dead letters of a new webhook after DeleteWebhook");
    },
  }),
];
