// Where the store's connections wait on locks: samples pg_stat_activity every few milliseconds
// for the bench's own backends (by process ID, so other users of the database are not counted)
// and counts those waiting on a lock, by the statement they wait in. Unlike sends/s, this does
// not depend on how busy the machine's CPUs are: a per-app serialization point shows as waits in
// the statement that takes the app's lock.
import pg from "pg";
import { backendPids, doNotCount, labelOf } from "./pg-round-trips.js";

export interface LockWaits {
  samples: number;
  /** Mean number of the bench's backends waiting on a lock, per sample. */
  meanWaiting: number;
  /** The same, by the statement they wait in. */
  byStatement: Record<string, number>;
}

export class LockWaitSampler {
  private timer: NodeJS.Timeout | undefined;
  private samples = 0;
  private waiting: Record<string, number> = {};
  private inFlight: Promise<void> | undefined;
  /** Which window a sample belongs to: one answered after its window ended is dropped. */
  private window = 0;

  private constructor(private readonly client: pg.Client) {}

  static async connect(databaseUrl: string): Promise<LockWaitSampler> {
    const client = new pg.Client({ connectionString: databaseUrl });
    doNotCount(client);
    client.on("error", () => {}); // a lost connection only loses samples
    await client.connect();
    return new LockWaitSampler(client);
  }

  /** Starts a fresh sampling window. */
  start(intervalMs = 20): void {
    this.samples = 0;
    this.waiting = {};
    this.window++;
    this.timer = setInterval(() => {
      // A slow answer skips a tick rather than queueing samples.
      this.inFlight ??= this.sample().finally(() => (this.inFlight = undefined));
    }, intervalMs);
  }

  private async sample(): Promise<void> {
    const window = this.window;
    try {
      const { rows } = await this.client.query<{ query: string }>(
        "SELECT query FROM pg_stat_activity WHERE pid = ANY($1::int[]) AND wait_event_type = 'Lock'",
        [backendPids()],
      );
      if (window !== this.window || !this.timer) return;
      this.samples++;
      for (const r of rows) {
        const label = labelOf(r.query);
        this.waiting[label] = (this.waiting[label] ?? 0) + 1;
      }
    } catch {
      // A failed sample is left out; the phase's numbers do not depend on it.
    }
  }

  /** Ends the window and returns its counts. */
  stop(): LockWaits {
    clearInterval(this.timer);
    this.timer = undefined;
    const n = Math.max(1, this.samples);
    const byStatement = Object.fromEntries(Object.entries(this.waiting).map(([k, v]) => [k, v / n]));
    return { samples: this.samples, meanWaiting: Object.values(byStatement).reduce((a, b) => a + b, 0), byStatement };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
    await this.client.end();
  }
}
