// A private nats-server for the fault tests, on its own port; stopped with SIGKILL and started
// again on the same port.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { freePort, waitForPort } from "./ports.js";

const BIN = "/usr/sbin/nats-server";

export function natsInstallable(): boolean {
  return existsSync(BIN);
}

export class NatsInstance {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<NatsInstance> {
    const nats = new NatsInstance(await freePort());
    await nats.up();
    return nats;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const child = spawn(BIN, ["-a", "127.0.0.1", "-p", String(this.port)], { stdio: "ignore" });
    this.child = child;
    await waitForPort(this.port);
  }

  /** SIGKILL: the server vanishes without closing its connections cleanly. */
  async down(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  destroy(): void {
    this.child?.kill("SIGKILL");
    this.child = undefined;
  }
}
