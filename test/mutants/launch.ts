// Starts test/mutants/serve.ts for a scratch source and waits for its {urls, adminKey} line.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { MutantBackend } from "./types.js";
import { repoRoot } from "./scratch.js";

export interface LaunchedServer {
  urls: string[];
  adminKey: string;
  /** The server's stderr so far (crash reports). */
  stderr(): string;
  /** True once the process has exited on its own. */
  exited(): boolean;
  stop(): Promise<void>;
}

export async function launchServer(src: string, backend: MutantBackend, startTimeoutMs = 60_000): Promise<LaunchedServer> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "test/mutants/serve.ts"), "--src", src, "--backend", backend], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let exited = false;
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within ${startTimeoutMs} ms`)), startTimeoutMs);
    createInterface({ input: child.stdout! }).once("line", (line) => (clearTimeout(timer), resolve(line)));
    child.once("exit", (code) => (clearTimeout(timer), reject(new Error(`the server exited with code ${code} before it started: ${stderr.slice(-2000)}`))));
  }).catch((err: unknown) => {
    child.kill("SIGKILL");
    throw err;
  });
  const { urls, adminKey } = JSON.parse(first) as { urls: string[]; adminKey: string };
  return {
    urls,
    adminKey,
    stderr: () => stderr,
    exited: () => exited,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 8_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
