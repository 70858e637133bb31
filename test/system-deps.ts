// System packages some tests need (Debian's chromium; Python with gRPC), installed by the
// project's own scripts/setup-test-deps.sh: a developer without them (or without root) sees the
// tests skipped with a warning; with NARROWCAST_REQUIRE_SERVICES=1 (CI) a failed install fails.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const script = fileURLToPath(new URL("../scripts/setup-test-deps.sh", import.meta.url));

/** Runs the setup for `component`; resolves undefined when installed, or why not. */
export async function setupSystemDeps(component: "chromium" | "python"): Promise<string | undefined> {
  try {
    // Fast when installed; an install takes a minute or two (apt-get).
    await promisify(execFile)("bash", [script, component], { timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return (e.stderr?.trim().split("\n").slice(-3).join(" / ") || e.message).slice(0, 500);
  }
}
