// `narrowcast admin webhook …` end to end: the bin is spawned as a user would run it, against a
// real server and a local endpoint playing the app's backend.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "@narrowcast/server";
import type { RunningServer } from "@narrowcast/server";
import { createAdminClient, createTextMessage } from "../src/index.js";
import type { NarrowcastAdminClient } from "../src/index.js";

const bin = fileURLToPath(new URL("../bin/narrowcast.js", import.meta.url));
// The bin runs the TypeScript sources through tsx: no build needed.
const node = ["--import", "tsx", bin];

let server: RunningServer;
let admin: NarrowcastAdminClient;
let endpoint: Server;
/** The status the endpoint answers every request with. */
let status = 204;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  // Two fast attempts: a failing delivery becomes a dead letter at once.
  server = await startServer({ port: 0, webhookRetry: { baseMs: 1, capMs: 5, maxAttempts: 2 }, webhookPollMs: 20 });
  admin = createAdminClient({ baseUrl: server.url, adminKey: server.adminKey });
  endpoint = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(status).end());
  });
  await new Promise<void>((resolve) => endpoint.listen(0, "127.0.0.1", resolve));
  env = { ...process.env, NARROWCAST_URL: server.url, NARROWCAST_ADMIN_KEY: server.adminKey, NARROWCAST_TOKEN: "" };
});
afterAll(async () => {
  await admin?.close();
  await server?.close();
  endpoint?.closeAllConnections();
  await new Promise((resolve) => endpoint?.close(resolve));
});

const hook = (path: string) => `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}${path}`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...node, ...args], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command that must succeed and returns its parsed --json output. */
async function json(args: string[]) {
  const result = await run([...args, "--json"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

async function newApp(): Promise<string> {
  const app = await admin.createApp({ name: "cli-webhook" });
  await admin.importUsers(app.appId, ["alice"]);
  await admin.createGroup(app.appId, { type: "work", groupId: "team", ownerId: "alice" });
  return app.appId;
}

describe("narrowcast admin webhook", () => {
  it("set, show, rotate-secret, delete", async () => {
    const appId = await newApp();
    const first = await run(["admin", "webhook", "set", "--app", appId, "--webhook-url", hook("/events"), "--events", "message.sent,member.joined"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`url: ${hook("/events")}`);
    expect(first.stdout).toContain("events: message.sent, member.joined");
    expect(first.stdout).toMatch(/secret: whsec_/);

    const set = await json([
      "admin", "webhook", "set", "--app", appId, "--webhook-url", hook("/events2"),
      "--events", "message.sent", "--events", "push.requested",
      "--push-url", hook("/push"), "--push-excluded-from-unread",
      "--before-send-url", hook("/before"), "--before-send-timeout-ms", "1500", "--before-send-failure", "reject",
      "--max-concurrent", "9",
    ]);
    expect(set).toEqual({
      url: hook("/events2"),
      eventTypes: ["WEBHOOK_EVENT_TYPE_MESSAGE_SENT", "WEBHOOK_EVENT_TYPE_PUSH_REQUESTED"],
      pushUrl: hook("/push"),
      pushExcludedFromUnread: true,
      beforeSendUrl: hook("/before"),
      beforeSendTimeout: "1.500s",
      beforeSendFailureAction: "BEFORE_SEND_FAILURE_ACTION_REJECT",
      maxConcurrentDeliveries: 9,
    });
    expect(await json(["admin", "webhook", "show", "--app", appId])).toEqual(set);
    const shown = await run(["admin", "webhook", "show", "--app", appId]);
    expect(shown.stdout).toContain(`before-send: ${hook("/before")} (timeout 1500 ms, on failure reject)`);
    expect(shown.stdout).not.toContain("secret");

    const rotated = await json(["admin", "webhook", "rotate-secret", "--app", appId, "--grace-seconds", "60"]);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(new Date(rotated.previousSecretExpireTime).getTime()).toBeGreaterThan(Date.now());

    expect(await json(["admin", "webhook", "delete", "--app", appId])).toEqual({ appId });
    const gone = await run(["admin", "webhook", "show", "--app", appId, "--json"]);
    expect(gone.code).toBe(1);
    expect(JSON.parse(gone.stderr)).toMatchObject({ error: { code: "not_found", reason: "WEBHOOK_NOT_FOUND" } });
  });

  it("set refuses an unknown event type; the server's FIELD_INVALID is printed", async () => {
    const appId = await newApp();
    const unknown = await run(["admin", "webhook", "set", "--app", appId, "--webhook-url", hook("/x"), "--events", "message.read"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown webhook event type "message.read"');
    const invalid = await run(["admin", "webhook", "set", "--app", appId, "--webhook-url", "not a url"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("webhook.url");
  });

  it("test prints the endpoint's answer and exits with 1 unless it was 2xx", async () => {
    const appId = await newApp();
    await admin.setWebhook(appId, { url: hook("/test"), eventTypes: [] });
    status = 204;
    const ok = await run(["admin", "webhook", "test", "--app", appId]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^HTTP 204 in \d+ ms\n$/);
    status = 500;
    try {
      const failed = await run(["admin", "webhook", "test", "--app", appId, "--json"]);
      expect(failed.code).toBe(1);
      expect(JSON.parse(failed.stdout)).toMatchObject({ httpStatus: 500, error: expect.any(String) });
    } finally {
      status = 204;
    }
  });

  it("dead-letters and replay", async () => {
    const appId = await newApp();
    await admin.setWebhook(appId, { url: hook("/dead"), eventTypes: ["message.sent"] });
    status = 503;
    try {
      await admin.sendMessage(appId, createTextMessage("lost"), { groupId: "team" });
      // The server retries in the background; wait for the dead letter.
      while ((await admin.listDeadLetters(appId)).items.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      status = 204;
    }
    const listed = await json(["admin", "webhook", "dead-letters", "--app", appId]);
    expect(listed.nextPageToken).toBe("");
    expect(listed.deadLetters).toHaveLength(1);
    const [dead] = listed.deadLetters;
    expect(dead).toMatchObject({ type: "message.sent", url: hook("/dead"), attempts: 2 });
    const text = await run(["admin", "webhook", "dead-letters", "--app", appId]);
    expect(text.stdout).toContain(`${dead.deliveryId} message.sent, 2 attempts`);

    const unknown = await run(["admin", "webhook", "replay", "--app", appId, "msg_nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("DEAD_LETTER_NOT_FOUND");

    const replayed = await run(["admin", "webhook", "replay", "--app", appId, dead.deliveryId]);
    expect(replayed.stdout).toBe(`Replayed 1 dead letter of app ${appId}\n`);
    while ((await admin.listDeadLetters(appId)).items.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await json(["admin", "webhook", "replay", "--app", appId])).toEqual({ appId, replayedCount: 0 });
    expect((await run(["admin", "webhook", "dead-letters", "--app", appId])).stdout).toBe("(no dead letters)\n");
  });
});
