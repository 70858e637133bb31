/** Settings of an exponential backoff. */
export interface BackoffOptions {
  /** Upper bound of the first delay, in milliseconds. */
  baseDelayMs?: number;
  /** No delay is longer than this, in milliseconds. */
  maxDelayMs?: number;
}

/**
 * Exponential backoff with "full jitter": a uniformly random delay between 0 and
 * min(max, base * 2^attempt). Spreads reconnecting clients out instead of having them
 * retry in lockstep after a server restart.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, defaults: Required<BackoffOptions>): number {
  const base = options.baseDelayMs ?? defaults.baseDelayMs;
  const max = options.maxDelayMs ?? defaults.maxDelayMs;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.floor(Math.random() * ceiling);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
