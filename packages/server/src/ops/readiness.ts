// Readiness: can this node serve requests now? It can when its store and its bus answer a ping
// within a deadline, and it is not shutting down. Load balancers (GET /readyz) and gRPC health
// checks (grpc.health.v1) ask it; liveness (/healthz) does not, so that an orchestrator does not
// restart a node only because its database is away.
import type { Bus } from "../bus/types.js";
import type { Store } from "../store/types.js";

export interface ReadinessReport {
  ready: boolean;
  /** "ok", or why the component is not reachable. */
  checks: { store: string; bus: string };
}

export class ReadinessTimeout extends Error {
  override readonly name = "ReadinessTimeout";
}

/** Resolves "ok", or the failure's message; a ping slower than `timeoutMs` counts as failed. */
async function probe(ping: (() => Promise<void>) | undefined, timeoutMs: number): Promise<string> {
  // A backend without ping() has nothing that can become unreachable (e.g. in-process).
  if (!ping) return "ok";
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ReadinessTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs).unref();
  });
  try {
    await Promise.race([ping(), deadline]);
    return "ok";
  } catch (err) {
    return err instanceof Error ? err.message || err.name : String(err);
  } finally {
    clearTimeout(timer);
  }
}

export class Readiness {
  private shuttingDown = false;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly timeoutMs = 2000,
  ) {}

  /** From now on the node reports not ready (graceful shutdown: balancers stop sending). */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async check(): Promise<ReadinessReport> {
    const [store, bus] = await Promise.all([
      probe(this.store.ping?.bind(this.store), this.timeoutMs),
      probe(this.bus.ping?.bind(this.bus), this.timeoutMs),
    ]);
    const checks = this.shuttingDown ? { store: "shutting down", bus: "shutting down" } : { store, bus };
    return { ready: checks.store === "ok" && checks.bus === "ok", checks };
  }
}
