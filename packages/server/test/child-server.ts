// The server binary as a child process on a data directory that outlives it, for tests that stop
// it the hard way (SIGTERM under load, SIGKILL) and start it again on the same data.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/narrowcast-server.js", import.meta.url));

export interface ChildServer {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/** Starts the server binary with these extra flags and resolves with its URL once it listens. */
export function startChildServer(dataDir: string, adminKey: string, extraArgs: readonly string[] = []): Promise<ChildServer> {
  // The bin runs the TypeScript sources (tsx maps its import through tsconfig.json "paths"): no build needed.
  const args = ["--import", "tsx", BIN, "--port", "0", "--data-dir", dataDir, "--log-level", "warn", ...extraArgs];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, NARROWCAST_ADMIN_KEY: adminKey },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1], exited });
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${out}`)));
  });
}
