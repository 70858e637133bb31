import { Code } from "@connectrpc/connect";
import { ErrorReason } from "@narrowcast/gen";
import { backoffDelay, sleep } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import { NarrowcastError } from "./errors.js";

/** Retries of sends. Only idempotent requests (with a client message ID) are retried. */
export interface RetryOptions extends BackoffOptions {
  /** Attempts in total, the first included; 1 disables retries. Default 5. */
  maxAttempts?: number;
}

const defaultBackoff = { baseDelayMs: 100, maxDelayMs: 2_000 };
const defaultMaxAttempts = 5;

/**
 * Whether a failed attempt may have been lost on the way (so retrying can help) rather than
 * rejected by the server. Connection resets surface as Aborted, Canceled or Unavailable, deadlines as
 * DeadlineExceeded, and low-level HTTP/2 failures as Internal or Unknown without the
 * narrowcast.v1.ErrorDetail that every server error carries (rule ERR-1).
 */
export function isTransient(error: NarrowcastError): boolean {
  switch (error.code) {
    case Code.Unavailable:
    case Code.Aborted:
    case Code.Canceled: // by the transport; a cancel by the caller's signal is never retried
    case Code.DeadlineExceeded:
      return true;
    case Code.Internal:
    case Code.Unknown:
      return error.reason === ErrorReason.UNSPECIFIED;
    default:
      return false;
  }
}

/**
 * Calls `attempt` until it succeeds, fails with a non-transient error, or the attempts run
 * out; waits with exponential backoff and full jitter in between. The caller makes the
 * attempt idempotent (same client message ID every time, rule MSG-10), so a retry after a
 * lost response returns the stored message instead of storing it twice.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  options: RetryOptions = {},
  signal?: AbortSignal,
): Promise<T> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? defaultMaxAttempts);
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      const error = NarrowcastError.from(e);
      if (n + 1 >= maxAttempts || !isTransient(error) || signal?.aborted) {
        throw error;
      }
    }
    await sleep(backoffDelay(n, options, defaultBackoff), signal);
  }
}
