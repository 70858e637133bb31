// A client nobody here wrote, in another language (issue 11): the Python example, with bindings
// generated from proto/ by protoc and grpc_python_plugin into a temp dir, runs over gRPC (HTTP/2
// cleartext) against a server on port 0. It sends a targeted message, receives it on a Subscribe
// stream (a non-receiver does not, behind a barrier message), and reads the typed error
// (google.rpc.ErrorInfo from grpc-status-details-bin) of a rejected send.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@narrowcast/server";
import { setupSystemDeps } from "../../test/system-deps.js";

const run = promisify(execFile);
const here = fileURLToPath(new URL(".", import.meta.url));
// Debian's python with its python3-grpcio, not whatever python3 is first on PATH (e.g. pyenv).
const PYTHON = "/usr/bin/python3";

const missing = await setupSystemDeps("python");
const required = process.env.NARROWCAST_REQUIRE_SERVICES === "1";
if (missing && !required) console.warn(`Python with gRPC not available (${missing}): skipping`);

describe("Python client dependencies", () => {
  it.skipIf(missing !== undefined && !required)("are installed by scripts/setup-test-deps.sh", () => {
    expect(missing, "scripts/setup-test-deps.sh python failed, and NARROWCAST_REQUIRE_SERVICES=1").toBeUndefined();
  });
});

describe.skipIf(missing !== undefined)("the Python example over gRPC", () => {
  let server: RunningServer;
  let generated: string;

  beforeAll(async () => {
    generated = await mkdtemp(join(tmpdir(), "narrowcast-python-"));
    // Debian's protoc and plugin, as the setup installed them, whatever else is on PATH.
    await run("bash", [join(here, "generate.sh"), generated], {
      env: { ...process.env, PROTOC: "/usr/bin/protoc", GRPC_PYTHON_PLUGIN: "/usr/bin/grpc_python_plugin" },
    });
    server = await startServer({ port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    if (generated) await rm(generated, { recursive: true, force: true });
  });

  it("sends a targeted message, receives it on Subscribe, and reads the typed error of a rejected send", async () => {
    const target = new URL(server.url).host;
    const { stdout } = await run(PYTHON, [join(here, "targeted_message.py"), "--target", target, "--admin-key", server.adminKey], {
      env: { ...process.env, PYTHONPATH: generated, PYTHONDONTWRITEBYTECODE: "1" },
      timeout: 60_000,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`the Python example failed: ${err.stderr || err.message}\n${err.stdout ?? ""}`);
    });
    expect(JSON.parse(stdout)).toEqual({
      sent: { seq: 1, receiver_ids: ["bob"] },
      bob_received: ["for bob only", "barrier"],
      bob_targeted_receivers: ["bob"],
      carol_received: ["barrier"],
      rejected: { code: "INVALID_ARGUMENT", status_code: 3, domain: "narrowcast", reason: "SENDER_IN_RECEIVER_LIST" },
    });
  });
});
