// HOOK configuration: SetWebhook validation and defaults, GetWebhook, DeleteWebhook, the secret
// and its rotation (HOOK-1 to HOOK-3), checked through AdminService and the suite's receiver.
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "@narrowcast/gen";
import { BeforeSendFailureAction, WebhookEventType } from "@narrowcast/gen/admin";
import { defineCase } from "../case.js";
import { check, durationMs, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { retryDelayBoundMs } from "../settings.js";
import { sleep } from "../subscription.js";
import { expectedSignature } from "../webhook-receiver.js";
import { deliverySettle, deliveryWaitMs, expectSigned, firstWebhook, isSentOf, setWebhook, type WebhookInit } from "./hook-util.js";

const needs = "webhooks" as const;

export const hookConfigCases = [
  defineCase({
    id: "hook-config-validation",
    rules: ["HOOK-1"],
    needs,
    requirement:
      "SetWebhook rejects a bad url, push_url or before_send_url, an unspecified, undefined or duplicate event type, a before_send_timeout that is negative or over 10 s, a max_concurrent_deliveries that is negative or over 64, and an undefined failure action with InvalidArgument FIELD_INVALID naming the field, and sets nothing.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url").url;
      const app = await ctx.createApp();
      const bad: [string, WebhookInit, string][] = [
        ["an empty url", { url: "" }, "webhook.url"],
        ["a relative url", { url: "/hooks" }, "webhook.url"],
        ["an ftp: url", { url: "ftp://example.com/hooks" }, "webhook.url"],
        ["a url with a user name and password", { url: "https://user:secret@example.com/hooks" }, "webhook.url"],
        ["a url of 2,049 characters", { url: `http://example.com/${"a".repeat(2049 - 19)}` }, "webhook.url"],
        ["a push_url that is not a URL", { url, pushUrl: "not a url" }, "webhook.push_url"],
        ["a before_send_url with the mailto: scheme", { url, beforeSendUrl: "mailto:backend@example.com" }, "webhook.before_send_url"],
        ["event type UNSPECIFIED", { url, eventTypes: [WebhookEventType.UNSPECIFIED] }, "webhook.event_types"],
        ["an undefined event type", { url, eventTypes: [99 as WebhookEventType] }, "webhook.event_types"],
        ["a duplicate event type", { url, eventTypes: [WebhookEventType.MESSAGE_SENT, WebhookEventType.MESSAGE_SENT] }, "webhook.event_types"],
        ["a negative before_send_timeout", { url, beforeSendTimeout: { seconds: -1n } }, "webhook.before_send_timeout"],
        ["a before_send_timeout of 10.001 s", { url, beforeSendTimeout: { seconds: 10n, nanos: 1_000_000 } }, "webhook.before_send_timeout"],
        ["a negative max_concurrent_deliveries", { url, maxConcurrentDeliveries: -1 }, "webhook.max_concurrent_deliveries"],
        ["max_concurrent_deliveries 65", { url, maxConcurrentDeliveries: 65 }, "webhook.max_concurrent_deliveries"],
        ["an undefined before_send_failure_action", { url, beforeSendFailureAction: 7 as BeforeSendFailureAction }, "webhook.before_send_failure_action"],
      ];
      for (const [what, webhook, field] of bad) {
        await expectError(ctx.admin.setWebhook({ appId: app.appId, webhook }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field, what: `SetWebhook with ${what}` });
      }
      await expectError(ctx.admin.getWebhook({ appId: app.appId }), Code.NotFound, ErrorReason.WEBHOOK_NOT_FOUND, { what: "GetWebhook after only rejected SetWebhook calls" });
      // The limits themselves are accepted.
      const edge = await setWebhook(ctx, app.appId, { url: `http://example.com/${"a".repeat(2048 - 19)}`, beforeSendTimeout: { seconds: 10n }, maxConcurrentDeliveries: 64 });
      expectEqual([durationMs(edge.beforeSendTimeout), edge.maxConcurrentDeliveries], [10_000, 64], "before_send_timeout and max_concurrent_deliveries at their limits");
    },
  }),
  defineCase({
    id: "hook-config-defaults",
    rules: ["HOOK-1", "HOOK-2", "HOOK-4"],
    needs,
    requirement:
      "SetWebhook returns the configuration with its defaults (before_send_timeout 2 s, max_concurrent_deliveries 4, failure action ALLOW) and ignores output-only fields; only the app's first SetWebhook returns the generated secret (whsec_ + 32 bytes), a later one keeps it and returns it empty, and GetWebhook returns the configuration without it.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url");
      const app = await ctx.createApp();
      const { webhook: first, secret } = await firstWebhook(ctx, app.appId, {
        url: url.url,
        secret: "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        previousSecretExpireTime: { seconds: 4_000_000_000n },
      });
      check(secret !== "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "SetWebhook took the request's secret, which is output only", "a generated secret", secret);
      expectEqual(
        {
          url: first.url,
          eventTypes: first.eventTypes,
          timeout: durationMs(first.beforeSendTimeout),
          max: first.maxConcurrentDeliveries,
          action: BeforeSendFailureAction[first.beforeSendFailureAction],
          expire: first.previousSecretExpireTime === undefined,
        },
        { url: url.url, eventTypes: [], timeout: 2000, max: 16, action: "ALLOW", expire: true },
        "the first SetWebhook's configuration with its defaults",
      );
      const got = (await ctx.admin.getWebhook({ appId: app.appId })).webhook;
      expectEqual([got?.url, got?.secret, durationMs(got?.beforeSendTimeout), got?.maxConcurrentDeliveries], [url.url, "", 2000, 16], "GetWebhook (url, secret, timeout, max concurrent)");

      const second = await setWebhook(ctx, app.appId, {
        url: url.url,
        eventTypes: [WebhookEventType.MEMBER_JOINED],
        beforeSendTimeout: { seconds: 0n, nanos: 500_000_000 },
        beforeSendFailureAction: BeforeSendFailureAction.REJECT,
        maxConcurrentDeliveries: 2,
      });
      expectEqual(
        [second.secret, second.eventTypes, durationMs(second.beforeSendTimeout), BeforeSendFailureAction[second.beforeSendFailureAction], second.maxConcurrentDeliveries],
        ["", [WebhookEventType.MEMBER_JOINED], 500, "REJECT", 2],
        "a later SetWebhook (secret empty, the new values)",
      );
      const again = (await ctx.admin.getWebhook({ appId: app.appId })).webhook;
      expectEqual([again?.secret, again?.eventTypes, durationMs(again?.beforeSendTimeout)], ["", [WebhookEventType.MEMBER_JOINED], 500], "GetWebhook after the second SetWebhook");

      // The first secret still signs: a later SetWebhook keeps it.
      const test = await ctx.admin.testWebhook({ appId: app.appId });
      expectEqual(test.httpStatus, 200, "TestWebhook's http_status");
      expectSigned(url.requests, secret);
    },
  }),
  defineCase({
    id: "hook-config-not-found",
    rules: ["HOOK-2"],
    needs,
    requirement:
      "GetWebhook, DeleteWebhook, RotateWebhookSecret, TestWebhook, ListDeadLetters and ReplayDeadLetters answer NotFound WEBHOOK_NOT_FOUND for an app without a webhook, also once DeleteWebhook removed it.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url");
      const app = await ctx.createApp();
      const appId = app.appId;
      const all = async (when: string) => {
        const calls: [string, () => Promise<unknown>][] = [
          ["GetWebhook", () => ctx.admin.getWebhook({ appId })],
          ["DeleteWebhook", () => ctx.admin.deleteWebhook({ appId })],
          ["RotateWebhookSecret", () => ctx.admin.rotateWebhookSecret({ appId })],
          ["TestWebhook", () => ctx.admin.testWebhook({ appId })],
          ["ListDeadLetters", () => ctx.admin.listDeadLetters({ appId })],
          ["ReplayDeadLetters", () => ctx.admin.replayDeadLetters({ appId, deliveryIds: [] })],
        ];
        for (const [name, call] of calls) await expectError(call(), Code.NotFound, ErrorReason.WEBHOOK_NOT_FOUND, { what: `${name} ${when}` });
      };
      await all("on an app without a webhook");
      await firstWebhook(ctx, appId, { url: url.url });
      await ctx.admin.deleteWebhook({ appId });
      await all("after DeleteWebhook");
      expectEqual(url.requests.length, 0, "requests the receiver got (TestWebhook must not have reached it)");
    },
  }),
  defineCase({
    id: "hook-config-delete-stops-deliveries",
    rules: ["HOOK-2", "HOOK-6", "HOOK-8"],
    needs,
    requirement:
      "After DeleteWebhook returns no delivery starts: a delivery being retried stops (one attempt in flight may finish), and a message sent without a webhook is never delivered, not even once a new webhook is set.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url", deliveryWaitMs(ctx, 3));
      url.answer({ status: 503 });
      const w = await ctx.world();
      const { secret } = await firstWebhook(ctx, w.app.appId, { url: url.url, eventTypes: [WebhookEventType.MESSAGE_SENT] });
      const m1 = await w.user("alice").send(w.groupId, "retried until the webhook is deleted");
      const attempts = ctx.webhooks.maxAttempts >= 2 ? 2 : 1;
      await url.waitForCount(`${attempts} attempt(s) of message 1's delivery`, attempts, isSentOf(m1.messageId));
      await ctx.admin.deleteWebhook({ appId: w.app.appId });
      const atDelete = url.requests.length;
      const m2 = await w.user("alice").send(w.groupId, "sent without a webhook");
      // Long enough for the next two retries of message 1, had they been scheduled.
      await sleep(Math.min(10_000, retryDelayBoundMs(ctx.webhooks, attempts) + retryDelayBoundMs(ctx.webhooks, attempts + 1)));
      check(url.requests.length <= atDelete + 1, "attempts of a delivery started after DeleteWebhook returned", `at most ${atDelete + 1} requests (one in flight may finish)`, url.describeRequests());

      // A new webhook (a first SetWebhook again: a new secret) gets what is sent after it, but nothing from before.
      const fresh = ctx.webhookEndpoint("fresh", deliveryWaitMs(ctx));
      const { secret: freshSecret } = await firstWebhook(ctx, w.app.appId, { url: fresh.url, eventTypes: [WebhookEventType.MESSAGE_SENT] });
      const m3 = await w.user("alice").send(w.groupId, "sent after the new webhook");
      await fresh.waitFor("message 3's message.sent", isSentOf(m3.messageId));
      await deliverySettle(ctx);
      for (const [what, m] of [["message 1 (deleted with the webhook)", m1], ["message 2 (sent without a webhook)", m2]] as const) {
        check(!fresh.requests.some(isSentOf(m.messageId)), `the new webhook got ${what}`, "no delivery", fresh.describeRequests());
      }
      expectSigned(url.requests, secret);
      expectSigned(fresh.requests, freshSecret);
    },
  }),
  defineCase({
    id: "hook-config-rotate-secret",
    rules: ["HOOK-3", "HOOK-4", "HOOK-2"],
    needs,
    requirement:
      "RotateWebhookSecret returns a new secret; during the grace period every request carries two signatures, the new secret's first, each made with its secret; without a grace period only the new secret signs; a grace period beyond 30 days or negative is FIELD_INVALID.",
    async run(ctx) {
      const url = ctx.webhookEndpoint("url");
      const app = await ctx.createApp();
      const appId = app.appId;
      const { secret: s1 } = await firstWebhook(ctx, appId, { url: url.url });
      for (const [what, grace] of [["31 days", { seconds: 31n * 86_400n }], ["-1 s", { seconds: -1n }]] as const) {
        await expectError(ctx.admin.rotateWebhookSecret({ appId, previousSecretGracePeriod: grace }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
          field: "previous_secret_grace_period",
          what: `RotateWebhookSecret with a grace period of ${what}`,
        });
      }
      const before = Date.now();
      const rotated = (await ctx.admin.rotateWebhookSecret({ appId, previousSecretGracePeriod: { seconds: 3600n } })).webhook;
      check(rotated, "RotateWebhookSecret returned no webhook");
      const s2 = rotated.secret;
      check(/^whsec_[A-Za-z0-9+/]{43}=$/.test(s2) && s2 !== s1, "RotateWebhookSecret returned no new secret", "a new whsec_ secret", JSON.stringify(s2));
      const expire = rotated.previousSecretExpireTime ? Number(rotated.previousSecretExpireTime.seconds) * 1000 : undefined;
      check(expire !== undefined && Math.abs(expire - (before + 3_600_000)) < 120_000, "previous_secret_expire_time is not the grace period from now", "about 1 h from now", String(expire && new Date(expire).toISOString()));
      expectEqual((await ctx.admin.getWebhook({ appId })).webhook?.secret, "", "GetWebhook's secret after a rotation");

      await ctx.admin.testWebhook({ appId });
      const during = await url.waitFor("the webhook.test during the grace period", () => true);
      const signatures = (during.headers["webhook-signature"] ?? "").split(" ");
      expectEqual(signatures, [expectedSignature(during, s2), expectedSignature(during, s1)], "webhook-signature during the grace period (the new secret's first)");

      const s3 = (await ctx.admin.rotateWebhookSecret({ appId })).webhook?.secret ?? "";
      check(s3 !== "" && s3 !== s2, "RotateWebhookSecret without a grace period returned no new secret");
      await ctx.admin.testWebhook({ appId });
      const after = (await url.waitForCount("webhook.test requests (the second after a rotation without grace)", 2, () => true))[1]!;
      expectEqual((after.headers["webhook-signature"] ?? "").split(" "), [expectedSignature(after, s3)], "webhook-signature after a rotation without a grace period");
      expectSigned([after], s3);
    },
  }),
];
