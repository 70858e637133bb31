// Rule HOOK-7: a delivery is recorded in the transaction of its event, so a node killed with
// SIGKILL after the commit and before the delivery succeeded delivers it after a restart, with the
// same webhook-id. The server binary runs as a child process on a data directory that outlives it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GroupType } from "@narrowcast/gen";
import { AdminService, Plan, WebhookEventType } from "@narrowcast/gen/admin";
import { AppBackendReceiver, type ReceivedRequest } from "./app-backend-receiver.js";
import { bearer, text } from "./support.js";

const BIN = fileURLToPath(new URL("../bin/narrowcast-server.js", import.meta.url));
const ADMIN_KEY = "app-backends-crash-admin-key";

/** Starts the server binary with slow retries (5 s base) and resolves once it listens. */
function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const args = ["--import", "tsx", BIN, "--port", "0", "--data-dir", dataDir, "--log-level", "warn"];
  args.push("--webhook-retry-base-ms", "5000", "--webhook-retry-cap-ms", "5000");
  const child = spawn(process.execPath, args, {
    env: { ...process.env, NARROWCAST_ADMIN_KEY: ADMIN_KEY },
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

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("webhook deliveries survive SIGKILL (HOOK-7)", () => {
  it("a delivery whose first attempt failed before the node was killed arrives after the restart, same webhook-id", { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "nc-hooks-crash-"));
    dirs.push(dataDir);
    const receiver = await AppBackendReceiver.start();
    let first: Awaited<ReturnType<typeof startChild>> | undefined = await startChild(dataDir);
    let second: Awaited<ReturnType<typeof startChild>> | undefined;
    try {
      const admin = createClient(AdminService, createConnectTransport({ baseUrl: first.url, httpVersion: "1.1", interceptors: [bearer(ADMIN_KEY)] }));
      const { app } = await admin.createApp({ name: "crash", plan: Plan.ULTIMATE });
      const appId = app!.appId;
      await admin.importUsers({ appId, users: [{ userId: "alice" }, { userId: "bob" }] });
      await admin.setWebhook({ appId, webhook: { url: receiver.url("/crash"), eventTypes: [WebhookEventType.MESSAGE_SENT] } });
      const { group } = await admin.createGroup({ appId, type: GroupType.WORK, name: "g", ownerId: "alice", memberIds: ["bob"] });
      receiver.respond(() => ({ status: 503 }));
      const { message } = await admin.sendMessage({ appId, senderId: "alice", message: { groupId: group!.groupId, elements: [text("durable")] } });
      const isIt = (r: ReceivedRequest) => r.path === "/crash" && r.event?.type === "message.sent";
      const [failed] = await receiver.until(isIt);
      // The failed attempt's retry is recorded right after its answer; then the node dies at once.
      await new Promise((r) => setTimeout(r, 1000));
      first.child.kill("SIGKILL");
      await first.exited;
      first = undefined;
      receiver.respond(() => undefined);

      second = await startChild(dataDir);
      const attempts = await receiver.until((r) => isIt(r) && receiver.requests.indexOf(r) > receiver.requests.indexOf(failed));
      const delivered = attempts[attempts.length - 1];
      expect(delivered.headers["webhook-id"]).toBe(failed.headers["webhook-id"]);
      const payload = delivered.event?.data?.event?.payload;
      expect(payload?.case === "messageReceived" && payload.value.message?.messageId).toBe(message!.messageId);
    } finally {
      first?.child.kill("SIGKILL");
      second?.child.kill("SIGTERM");
      await second?.exited;
      await receiver.close();
    }
  });
});
