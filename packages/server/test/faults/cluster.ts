// A cluster of N nodes on a private PostgreSQL and a private nats-server, each node reaching NATS
// through its own FaultyLink. Everything it starts, destroy() ends, also from an exit handler.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FaultyLink } from "./link.js";
import { NatsInstance } from "./nats.js";
import { ServerNode } from "./node.js";
import { freePort, sleep } from "./ports.js";
import { PostgresInstance } from "./postgres.js";

export const ADMIN_KEY = "faults-test-admin-key";

export class Cluster {
  readonly nodes: ServerNode[] = [];
  readonly links: FaultyLink[] = [];
  postgres: PostgresInstance | undefined;
  nats: NatsInstance | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), "nc-faults-"));
  private readonly onExit = () => this.destroySync();

  private constructor() {
    process.once("exit", this.onExit);
  }

  static async start(n: number): Promise<Cluster> {
    const cluster = new Cluster();
    try {
      [cluster.postgres, cluster.nats] = await Promise.all([PostgresInstance.start(), NatsInstance.start()]);
      for (let i = 0; i < n; i++) {
        const link = new FaultyLink(cluster.nats.port);
        cluster.links.push(link);
        const linkPort = await link.listen();
        cluster.nodes.push(
          new ServerNode({ index: i, port: await freePort(), databaseUrl: cluster.postgres.url, natsUrl: `nats://127.0.0.1:${linkPort}`, adminKey: ADMIN_KEY, nodes: n, logFile: join(cluster.dir, `node-${i}.log`) }),
        );
      }
      // One after another: concurrent starts are not what these tests are about (and on 2 cores
      // they gain little).
      for (const node of cluster.nodes) await node.start();
      await cluster.waitReady();
      return cluster;
    } catch (e) {
      await cluster.destroy();
      throw e;
    }
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** Waits until every node answers /readyz with 200 (database and bus reachable). */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const node of this.nodes) {
      for (;;) {
        const ok = await fetch(`${node.url}/readyz`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`node ${node.config.index} not ready within ${timeoutMs} ms`);
        await sleep(100);
      }
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill9()));
    await Promise.all(this.links.map((link) => link.close()));
    this.destroySync();
  }

  /** Synchronous teardown for the exit handler: nothing may outlive the test process. */
  private destroySync(): void {
    process.removeListener("exit", this.onExit);
    for (const node of this.nodes) {
      try {
        if (node.pid) process.kill(node.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.nats?.destroy();
    this.postgres?.destroy();
    if (!process.env.NARROWCAST_FAULTS_KEEP_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }
}
