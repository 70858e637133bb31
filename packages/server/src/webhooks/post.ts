// One signed POST to an app's endpoint (rule HOOK-4). It never throws: every outcome, including a
// network error or a timeout, is a result the caller can retry, dead-letter or report.
import { signedHeaders } from "./signing.js";
import type { WebhookRecord } from "../store/webhooks.js";

export interface PostResult {
  /** The HTTP status; 0 when there was no answer. */
  status: number;
  /** What went wrong when there was no answer ("timeout after 2000 ms", "connect ECONNREFUSED …"). */
  error?: string;
  latencyMs: number;
  /** The start of the response body (at most maxResponseBytes), when there was an answer. */
  text?: string;
}

export interface PostOptions {
  timeoutMs: number;
  /** The attempt's time, for `webhook-timestamp`. */
  nowMs: number;
  /** Default 64 KiB: a backend's answer is small, and a huge one must not fill the server's memory. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

export async function postSigned(url: string, webhook: WebhookRecord, deliveryId: string, body: string, opts: PostOptions): Promise<PostResult> {
  const started = performance.now();
  const signal = AbortSignal.timeout(opts.timeoutMs);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: signedHeaders(webhook, deliveryId, body, opts.nowMs),
      body,
      // A redirect is an answer, not a success: following it would send the signed body to a
      // URL the app never configured.
      redirect: "manual",
      signal,
    });
    const text = await readLimited(response, opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    return { status: response.status, text, latencyMs: performance.now() - started };
  } catch (err) {
    const error = signal.aborted ? `timeout after ${opts.timeoutMs} ms` : describeFailure(err);
    return { status: 0, error, latencyMs: performance.now() - started };
  }
}

/** Reads up to `limit` bytes of the body and drops the rest. */
async function readLimited(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value.subarray(0, limit - size));
      size += Math.min(value.byteLength, limit - size);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** fetch's own message is "fetch failed"; the cause says what really happened. */
function describeFailure(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message) return cause.message;
  if (err instanceof Error && err.message) return err.message;
  return String(err);
}
