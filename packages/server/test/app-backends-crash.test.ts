// Rule HOOK-7: a delivery is recorded in the transaction of its event, so a node killed with
// SIGKILL after the commit and before the delivery succeeded delivers it after a restart, with the
// same webhook-id. The server binary runs as a child process on a data directory that outlives it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GroupType } from "@narrowcast/gen";
import { AdminService, Plan, WebhookEventType } from "@narrowcast/gen/admin";
import { AppBackendReceiver, type ReceivedRequest } from "./app-backend-receiver.js";
import { bearer, text } from "./support.js";
import { startChildServer } from "./child-server.js";

const ADMIN_KEY = "app-backends-crash-admin-key";

/** The server binary with slow retries (5 s base), so the node can be killed between two attempts. */
const startChild = (dataDir: string) =>
  startChildServer(dataDir, ADMIN_KEY, ["--webhook-retry-base-ms", "5000", "--webhook-retry-cap-ms", "5000"]);

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
