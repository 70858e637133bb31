// Helpers of the consumer test: build and pack the workspace packages, run commands, and start
// the compiled reference server. Everything the test makes lives in one temp directory.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const workspaceNames = ["@narrowcast/gen", "@narrowcast/client", "@narrowcast/server", "@narrowcast/conformance"];

export class CommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} exited with ${code}\n--- stdout\n${stdout.slice(-4000)}\n--- stderr\n${stderr.slice(-4000)}`);
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment for commands run in the fresh project: without the npm_* variables of an
 * enclosing `npm test` (they would point npm at this workspace) and without NODE_OPTIONS.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith("npm_") && k !== "NODE_OPTIONS") env[k] = v;
  return { ...env, ...extra };
}

/** Runs a command to its end; `check` (the default) turns a non-zero exit into CommandFailed. */
export function run(command: string, args: string[], cwd: string, options: { env?: NodeJS.ProcessEnv; check?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: options.env ?? cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0 && options.check !== false) reject(new CommandFailed([command, ...args].join(" "), code, stdout, stderr));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** `npm`, run by the Node.js that runs the tests. */
export function npm(args: string[], cwd: string, options: { env?: NodeJS.ProcessEnv; check?: boolean } = {}): Promise<RunResult> {
  return run("npm", args, cwd, options);
}

/**
 * Runs `fn` holding a lock on this checkout's dist/ directories, so that two test runs in one
 * checkout never pack files the other is rewriting. A lock left by a crashed run expires.
 */
export async function withDistLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), `narrowcast-dist-${createHash("sha256").update(repoRoot).digest("hex").slice(0, 12)}.lock`);
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Builds every package (scripts/build.mjs, as `npm install` does) and packs it into `dest`;
 * returns the tarballs' paths. Call it inside withDistLock.
 */
export async function buildAndPack(dest: string): Promise<string[]> {
  mkdirSync(dest, { recursive: true });
  await run(process.execPath, [join(repoRoot, "scripts", "build.mjs")], repoRoot);
  const workspaces = workspaceNames.flatMap((name) => ["-w", name]);
  const { stdout } = await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", dest, ...workspaces], repoRoot);
  return (JSON.parse(stdout) as { filename: string }[]).map((p) => join(dest, p.filename));
}

export interface ChildServer {
  url: string;
  adminKey: string;
  stop(): Promise<void>;
}

/** Starts the compiled reference server (bin/narrowcast-server.js → dist/main.js, as `npm start` does). */
export function startCompiledServer(adminKey: string): Promise<ChildServer> {
  const bin = join(repoRoot, "packages", "server", "bin", "narrowcast-server.js");
  const child = spawn(process.execPath, [bin, "--port", "0", "--data-dir", ":memory:", "--log-level", "warn"], {
    env: cleanEnv({ NARROWCAST_ADMIN_KEY: adminKey }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  let output = "";
  child.stderr.on("data", (d) => (output += d));
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      output += d;
      const m = /listening on (\S+)/.exec(output);
      if (m) {
        resolve({
          url: m[1]!,
          adminKey,
          async stop() {
            child.kill("SIGTERM");
            await exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`the compiled server exited (${code}) before listening:\n${output}`)));
  });
}
