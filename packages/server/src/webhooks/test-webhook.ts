// TestWebhook (rule HOOK-14): one signed `webhook.test` request to the app's `url`, at once,
// neither retried nor recorded.
import { newId } from "../ids.js";
import type { WebhookRecord } from "../store/webhooks.js";
import { testBody } from "./payloads.js";
import { postSigned } from "./post.js";

/** HOOK-8's attempt timeout, which a test shares. */
const TEST_TIMEOUT_MS = 10_000;

export async function testWebhook(webhook: WebhookRecord, nowMs: number): Promise<{ httpStatus: number; error: string; latencyMs: number }> {
  const body = testBody(webhook.appId, nowMs);
  const result = await postSigned(webhook.config.url, webhook, newId("msg"), body, { timeoutMs: TEST_TIMEOUT_MS, nowMs });
  const ok = result.status >= 200 && result.status <= 299;
  const error = ok ? "" : (result.error ?? `HTTP ${result.status}`);
  return { httpStatus: result.status, error, latencyMs: result.latencyMs };
}
