// AdminService's webhook RPCs (rules HOOK-1 to HOOK-3, HOOK-9, HOOK-14): an app's backend
// configuration, its signing secret, a test request and the dead letters.
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "@narrowcast/gen";
import {
  AdminService,
  BeforeSendFailureAction,
  DeadLetterSchema,
  WebhookEventType,
  WebhookSchema,
  type Webhook,
} from "@narrowcast/gen/admin";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Deps } from "../context.js";
import { durationMsOf } from "../durations.js";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { LIST_SIZES, isDeadLetterKey, openPage } from "../paging.js";
import type { AppRecord } from "../store/types.js";
import type { WebhookRecord } from "../store/webhooks.js";
import { newWebhookSecret } from "../webhooks/secrets.js";
import { testWebhook } from "../webhooks/test-webhook.js";
import { DEFAULT_MAX_CONCURRENT } from "../webhooks/dispatcher.js";

type WebhookRpcs = Pick<
  ServiceImpl<typeof AdminService>,
  "setWebhook" | "getWebhook" | "deleteWebhook" | "rotateWebhookSecret" | "testWebhook" | "listDeadLetters" | "replayDeadLetters"
>;

const MAX_URL_CHARS = 2048;
const DEFAULT_BEFORE_SEND_TIMEOUT_MS = 2000;
const MAX_BEFORE_SEND_TIMEOUT_MS = 10_000;
const MAX_CONCURRENT = 64;
const MAX_GRACE_MS = 30 * 86_400_000;
const MAX_REPLAY_IDS = 1000;

function checkUrl(url: string, field: string, required: boolean): void {
  if (!url) {
    if (required) throw fieldInvalid(field, `${field} is required`);
    return;
  }
  if (url.length > MAX_URL_CHARS) throw fieldInvalid(field, `${field} is longer than ${MAX_URL_CHARS} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fieldInvalid(field, `${field} is not an absolute URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw fieldInvalid(field, `${field} must be an http or https URL`);
  // fetch refuses URLs with credentials: every delivery would fail.
  if (parsed.username || parsed.password) throw fieldInvalid(field, `${field} must not carry a user name or password`);
}

/** Rule HOOK-1: the request's configuration, checked, with its defaults applied and output-only fields dropped. */
export function normalizeWebhook(w: Webhook | undefined): Webhook {
  if (!w) throw fieldInvalid("webhook", "webhook is required");
  checkUrl(w.url, "webhook.url", true);
  checkUrl(w.pushUrl, "webhook.push_url", false);
  checkUrl(w.beforeSendUrl, "webhook.before_send_url", false);
  const types = new Set<WebhookEventType>();
  for (const t of w.eventTypes) {
    if (!(t in WebhookEventType) || t === WebhookEventType.UNSPECIFIED || types.has(t)) {
      throw fieldInvalid("webhook.event_types", "event_types must list defined types, each once");
    }
    types.add(t);
  }
  const timeoutMs =
    durationMsOf(w.beforeSendTimeout, "webhook.before_send_timeout", { minMs: 0, maxMs: MAX_BEFORE_SEND_TIMEOUT_MS }) ??
    DEFAULT_BEFORE_SEND_TIMEOUT_MS;
  if (!Number.isInteger(w.maxConcurrentDeliveries) || w.maxConcurrentDeliveries < 0 || w.maxConcurrentDeliveries > MAX_CONCURRENT) {
    throw fieldInvalid("webhook.max_concurrent_deliveries", `max_concurrent_deliveries must be 0 to ${MAX_CONCURRENT}`);
  }
  if (!(w.beforeSendFailureAction in BeforeSendFailureAction)) {
    throw fieldInvalid("webhook.before_send_failure_action", "before_send_failure_action is not a defined value");
  }
  return create(WebhookSchema, {
    url: w.url,
    eventTypes: [...types],
    pushUrl: w.pushUrl,
    pushExcludedFromUnread: w.pushExcludedFromUnread,
    beforeSendUrl: w.beforeSendUrl,
    beforeSendTimeout: durationFromMs(timeoutMs),
    beforeSendFailureAction:
      w.beforeSendFailureAction === BeforeSendFailureAction.UNSPECIFIED ? BeforeSendFailureAction.ALLOW : w.beforeSendFailureAction,
    maxConcurrentDeliveries: w.maxConcurrentDeliveries || DEFAULT_MAX_CONCURRENT,
  });
}

/** The configuration as the wire shows it; the secret only where the RPC hands it out (HOOK-1, HOOK-3). */
function webhookProto(record: WebhookRecord, withSecret: boolean, now: number): Webhook {
  const graceActive = record.previousSecret !== undefined && record.previousSecretExpiresAt !== undefined && record.previousSecretExpiresAt > now;
  return create(WebhookSchema, {
    ...record.config,
    secret: withSecret ? record.secret : "",
    previousSecretExpireTime: graceActive ? timestampFromMs(record.previousSecretExpiresAt!) : undefined,
  });
}

export function webhookRpcs(deps: Deps, requireApp: (appId: string) => Promise<AppRecord>): WebhookRpcs {
  const { store } = deps;

  async function requireWebhook(appId: string): Promise<WebhookRecord> {
    await requireApp(appId);
    const record = await store.getWebhook(appId);
    if (!record) throw narrowcastError(ErrorReason.WEBHOOK_NOT_FOUND, `app ${appId} has no webhook`, { field: "app_id" });
    return record;
  }

  return {
    async setWebhook(req) {
      const config = normalizeWebhook(req.webhook);
      await requireApp(req.appId);
      const existing = await store.getWebhook(req.appId);
      const record: WebhookRecord = existing
        ? { ...existing, config }
        : { appId: req.appId, config, secret: newWebhookSecret() };
      await store.putWebhook(record);
      deps.backends.nudge(req.appId);
      return { webhook: webhookProto(record, !existing, deps.now()) };
    },

    async getWebhook(req) {
      return { webhook: webhookProto(await requireWebhook(req.appId), false, deps.now()) };
    },

    async deleteWebhook(req) {
      await requireApp(req.appId);
      if (!(await store.deleteWebhook(req.appId))) {
        throw narrowcastError(ErrorReason.WEBHOOK_NOT_FOUND, `app ${req.appId} has no webhook`, { field: "app_id" });
      }
      return {};
    },

    async rotateWebhookSecret(req) {
      const graceMs = durationMsOf(req.previousSecretGracePeriod, "previous_secret_grace_period", { minMs: 0, maxMs: MAX_GRACE_MS });
      const existing = await requireWebhook(req.appId);
      const now = deps.now();
      // Rule HOOK-3: one previous secret at most, and only for the grace period.
      const record: WebhookRecord = {
        appId: existing.appId,
        config: existing.config,
        secret: newWebhookSecret(),
        previousSecret: graceMs ? existing.secret : undefined,
        previousSecretExpiresAt: graceMs ? now + Math.ceil(graceMs) : undefined,
      };
      await store.putWebhook(record);
      return { webhook: webhookProto(record, true, now) };
    },

    async testWebhook(req) {
      const record = await requireWebhook(req.appId);
      const result = await testWebhook(record, deps.now());
      return { httpStatus: result.httpStatus, error: result.error, latency: durationFromMs(Math.round(result.latencyMs)) };
    },

    async listDeadLetters(req) {
      const page = openPage(req, { rpc: `${AdminService.typeName}/ListDeadLetters`, appId: req.appId, caller: "" }, LIST_SIZES, isDeadLetterKey);
      await requireWebhook(req.appId);
      const letters = await store.listDeadLetters(req.appId, { after: page.after, limit: page.size + 1 });
      const { items, nextPageToken } = page.finish(letters, (d) => ({ createdAt: d.createdAt, deliveryId: d.deliveryId }));
      return {
        deadLetters: items.map((d) =>
          create(DeadLetterSchema, {
            deliveryId: d.deliveryId,
            type: d.type,
            url: d.url,
            attempts: d.attempts,
            lastError: d.lastError,
            createTime: timestampFromMs(d.createdAt),
            lastAttemptTime: timestampFromMs(d.lastAttemptAt),
            body: d.body,
          }),
        ),
        nextPageToken,
      };
    },

    async replayDeadLetters(req) {
      if (req.deliveryIds.length > MAX_REPLAY_IDS) throw fieldInvalid("delivery_ids", `at most ${MAX_REPLAY_IDS} delivery IDs`);
      await requireWebhook(req.appId);
      const ids = req.deliveryIds.length ? [...new Set(req.deliveryIds)] : undefined;
      const { replayed, missing } = await store.replayDeadLetters(req.appId, ids, deps.now());
      if (missing.length) {
        throw narrowcastError(ErrorReason.DEAD_LETTER_NOT_FOUND, `not dead letters of the app: ${missing.join(", ")}`, {
          field: "delivery_ids",
          ids: missing,
        });
      }
      deps.backends.nudge(req.appId);
      return { replayedCount: replayed };
    },
  };
}
