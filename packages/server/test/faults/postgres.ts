// A private PostgreSQL instance for the fault tests: its own data directory and port, run as the
// `postgres` user (initdb refuses root), never the machine's shared server.
import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./ports.js";

const run = promisify(execFile);
const BIN = "/usr/local/bin";

/** Whether this machine can start a private PostgreSQL (initdb, pg_ctl and the postgres user). */
export function postgresInstallable(): boolean {
  if (!existsSync(join(BIN, "initdb")) || !existsSync(join(BIN, "pg_ctl"))) return false;
  try {
    execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Runs a PostgreSQL binary as the postgres user when we are root. */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", join(BIN, bin), ...args]] : [join(BIN, bin), args];
}

export class PostgresInstance {
  private running = false;
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb in a fresh temp directory, then start on a free port. */
  static async start(): Promise<PostgresInstance> {
    const dir = mkdtempSync(join(tmpdir(), "nc-faults-pg-"));
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    if (process.getuid?.() === 0) chownSync(dir, uid, gid);
    const pg = new PostgresInstance(dir, await freePort());
    await run(...asPostgres("initdb", ["-D", join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]));
    await pg.up();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Starts (again) on the same port and waits until it accepts connections. */
  async up(): Promise<void> {
    // fsync=off is safe here: an immediate stop kills processes, not the OS, so written pages
    // survive. synchronous_commit=off is not: it acknowledges commits still in WAL buffers, which
    // an immediate stop loses, and the test would report acknowledged messages as missed.
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
    await run(...asPostgres("pg_ctl", ["-D", join(this.dir, "data"), "-l", join(this.dir, "log"), "-o", options, "-w", "-t", "30", "start"]));
    this.running = true;
  }

  /** Stops at once, as a crash would (no clean shutdown of sessions). */
  async down(): Promise<void> {
    await run(...asPostgres("pg_ctl", ["-D", join(this.dir, "data"), "-m", "immediate", "-w", "stop"]));
    this.running = false;
  }

  /** Stops (synchronously, so it also works from an exit handler) and removes the directory. */
  destroy(): void {
    if (this.running) {
      try {
        execFileSync(...asPostgres("pg_ctl", ["-D", join(this.dir, "data"), "-m", "immediate", "-w", "stop"]), { stdio: "ignore" });
      } catch {
        // already stopped
      }
      this.running = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
