// Summary statistics of latency samples, and a monotonic clock shared by sender and receivers
// (the benchmark runs server and clients in one process, so performance.now() is one clock).

export interface Summary {
  n: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `samples` (any unit); zeros when there are none. */
export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  if (n === 0) return { n, mean: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { n, mean: sum / n, min: sorted[0], p50: at(50), p90: at(90), p99: at(99), max: sorted[n - 1] };
}

export const now = (): number => performance.now();

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Waits for `promise`, at most `ms`; resolves false on timeout. The timer never outlives the wait. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Encodes a send timestamp (performance.now(), ms) into 8 bytes of custom_data. */
export function stamp(ms: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, ms);
  return bytes;
}

/** Reads the timestamp written by `stamp`, or NaN. */
export function unstamp(bytes: Uint8Array): number {
  if (bytes.length < 8) return NaN;
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0);
}

/** Runs `task` for each index in [0, count) with at most `concurrency` in flight. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
