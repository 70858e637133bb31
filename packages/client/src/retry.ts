import { Code } from "@connectrpc/connect";
import { backoffDelay, sleep } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import { NarrowcastError } from "./errors.js";
import { Reason } from "./reasons.js";

/** Retries of sends. Only idempotent requests (with a client message ID) are retried. */
export interface RetryOptions extends BackoffOptions {
  /** Attempts in total, the first included; 1 disables retries. Default 5. */
  maxAttempts?: number;
}

const defaultBackoff = { baseDelayMs: 100, maxDelayMs: 2_000 };
const defaultMaxAttempts = 5;

/**
 * Whether retrying a failed attempt can help. Yes when the server said so with a RetryInfo
 * (RATE_LIMITED, SLOW_CONSUMER, SHUTTING_DOWN, BACKEND_UNAVAILABLE, APP_BACKEND_UNAVAILABLE;
 * rule ERR-5), and when the attempt may have been lost on the way rather than rejected:
 * connection resets surface as Aborted, Canceled or Unavailable, deadlines as DeadlineExceeded,
 * and low-level HTTP/2 failures as Internal or Unknown without the ErrorInfo that every server
 * error carries (rule ERR-1). Never for MESSAGE_REJECTED: that is the app backend's decision,
 * and asking again would only ask it again (rule HOOK-11).
 */
export function isTransient(error: NarrowcastError): boolean {
  if (error.is(Reason.MESSAGE_REJECTED)) {
    return false;
  }
  // The app's backend did not answer a before-send call in time (rule HOOK-12): like
  // BACKEND_UNAVAILABLE, a later attempt may find it back, with or without a RetryInfo.
  if (error.retryDelayMs !== undefined || error.is(Reason.APP_BACKEND_UNAVAILABLE)) {
    return true;
  }
  switch (error.code) {
    case Code.Unavailable:
    case Code.Aborted:
    case Code.Canceled: // by the transport; a cancel by the caller's signal is never retried
    case Code.DeadlineExceeded:
      return true;
    case Code.Internal:
    case Code.Unknown:
      return error.reason === "";
    default:
      return false;
  }
}

/**
 * How long to wait before attempt `n + 1`: at least the server's RetryInfo delay when it gave
 * one, plus exponential backoff with full jitter, so that clients told "1 s" by a server that
 * shuts down do not all come back in the same millisecond.
 */
export function retryDelay(error: NarrowcastError, n: number, options: BackoffOptions, defaults: Required<BackoffOptions>): number {
  return (error.retryDelayMs ?? 0) + backoffDelay(n, options, defaults);
}

/**
 * Calls `attempt` until it succeeds, fails with a non-transient error, or the attempts run
 * out. The caller makes the attempt idempotent (same client message ID every time, rule
 * MSG-10), so a retry after a lost response returns the stored message instead of storing it
 * twice. A server asking for a longer wait than `maxDelayMs` gets its error passed on instead:
 * a send should fail visibly rather than hang.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  options: RetryOptions = {},
  signal?: AbortSignal,
): Promise<T> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? defaultMaxAttempts);
  const maxDelayMs = options.maxDelayMs ?? defaultBackoff.maxDelayMs;
  for (let n = 0; ; n++) {
    let error: NarrowcastError;
    try {
      return await attempt();
    } catch (e) {
      error = NarrowcastError.from(e);
      if (n + 1 >= maxAttempts || !isTransient(error) || signal?.aborted || (error.retryDelayMs ?? 0) > maxDelayMs) {
        throw error;
      }
    }
    await sleep(retryDelay(error, n, options, defaultBackoff), signal);
  }
}
