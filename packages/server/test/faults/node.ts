// One Narrowcast server node as a child process, with its output kept in a log file so error-level
// lines can be counted afterwards.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitForPort } from "./ports.js";

/**
 * The repository whose server runs: this one, or NARROWCAST_FAULTS_ROOT (e.g. an exported
 * commit, to test a fixed revision while the working tree changes).
 */
export function serverRoot(): string {
  return process.env.NARROWCAST_FAULTS_ROOT || fileURLToPath(new URL("../../../../", import.meta.url));
}

/**
 * The one place that says how a node is spawned: the bin, from TypeScript sources through tsx
 * (the root tsconfig's `paths` map the bin's imports to sources; no build needed).
 */
export function spawnServer(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  const root = serverRoot();
  const bin = join(root, "packages/server/bin/narrowcast-server.js");
  return spawn(process.execPath, ["--import", "tsx", bin, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export interface NodeConfig {
  index: number;
  port: number;
  databaseUrl: string;
  natsUrl: string;
  adminKey: string;
  nodes: number;
  logFile: string;
}

export class ServerNode {
  private child: ChildProcess | undefined;
  constructor(readonly config: NodeConfig) {}

  get url(): string {
    return `http://127.0.0.1:${this.config.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the node (again, on the same port) and resolves once it listens. */
  async start(): Promise<void> {
    const c = this.config;
    const child = spawnServer(
      ["--port", String(c.port), "--data-dir", ":memory:", "--database-url", c.databaseUrl, "--nats-url", c.natsUrl, "--rate-limit-nodes", String(c.nodes), "--log-level", "warn", "--drain-timeout", "1"],
      { NARROWCAST_ADMIN_KEY: c.adminKey },
    );
    this.child = child;
    const log = (stream: string) => (d: Buffer) => appendFileSync(c.logFile, d.toString().replace(/^(?=.)/gm, `${stream} `));
    child.stdout!.on("data", log("out"));
    child.stderr!.on("data", log("err"));
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code, signal) => reject(new Error(`node ${c.index} exited (${code ?? signal}) before listening:\n${this.logTail(20)}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(c.port, 60_000), exited]);
  }

  /** kill -9: no drain, streams and connections just vanish. */
  async kill9(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  private logTail(lines: number): string {
    try {
      return readFileSync(this.config.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no output)";
    }
  }

  /** Error-level (and fatal) log lines, and anything the process wrote to stderr. */
  errorLines(): string[] {
    let text = "";
    try {
      text = readFileSync(this.config.logFile, "utf8");
    } catch {
      return [];
    }
    return text.split("\n").filter((line) => /^err \S/.test(line) || /"level":(50|60)\b/.test(line));
  }
}
