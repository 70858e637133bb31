// Presence for push requests (rule HOOK-13): streams are counted per user on the node; the first
// open marks the user online, the last close offline; writes of one user land in order, so a quick
// close and reopen leaves the user online; a node's rows stop counting when it stops or expires.
import { afterEach, describe, expect, it, vi } from "vitest";
import { pino } from "pino";
import { Presence } from "../src/webhooks/presence.js";
import { FakeWebhookStore } from "./webhooks-fake-store.js";

const log = pino({ level: "silent" });
const started: Presence[] = [];

async function startPresence(store: FakeWebhookStore, nodeId = "node1", now = () => Date.now(), ttlMs?: number): Promise<Presence> {
  const presence = new Presence(store, { nodeId, now, log, ttlMs });
  await presence.start();
  started.push(presence);
  return presence;
}

afterEach(async () => {
  for (const p of started.splice(0)) await p.stop().catch(() => {});
});

describe("Presence", () => {
  it("start clears expired nodes and registers this one", async () => {
    const store = new FakeWebhookStore();
    store.nodes.set("dead", Date.now() - 1);
    store.presence.set("dead", new Set(["app1\0ghost"]));
    await startPresence(store);
    expect([...store.nodes.keys()]).toEqual(["node1"]);
    expect(store.nodes.get("node1")).toBeGreaterThan(Date.now());
  });

  it("counts streams: online from the first open to the last close", async () => {
    const store = new FakeWebhookStore();
    const presence = await startPresence(store);
    await presence.opened("app1", "bob");
    expect(await presence.onlineUsers("app1", ["bob", "carol"])).toEqual(new Set(["bob"]));
    await presence.opened("app1", "bob");
    presence.closed("app1", "bob");
    // Still one stream open: nothing is written.
    expect(store.presenceWrites).toEqual([{ nodeId: "node1", appId: "app1", userId: "bob", online: true }]);
    expect(await presence.onlineUsers("app1", ["bob"])).toEqual(new Set(["bob"]));
    presence.closed("app1", "bob");
    await vi.waitFor(() => expect(store.presenceWrites.at(-1)).toMatchObject({ userId: "bob", online: false }));
    expect(await presence.onlineUsers("app1", ["bob"])).toEqual(new Set());
    // Another app's user of the same ID is someone else.
    await presence.opened("app2", "bob");
    expect(await presence.onlineUsers("app1", ["bob"])).toEqual(new Set());
  });

  it("a quick close and reopen leaves the user online, however the writes are timed", async () => {
    const store = new FakeWebhookStore();
    const presence = await startPresence(store);
    await presence.opened("app1", "bob");
    // The store answers the reopen's write before the close's: were the writes not serialised,
    // the close's "offline" would land last.
    const [closeWrite, reopenWrite] = [deferred(), deferred()];
    store.presenceHolds.push(closeWrite.promise, reopenWrite.promise);
    presence.closed("app1", "bob");
    // The close's write is under way (it has decided "offline") when the stream reopens.
    await new Promise((resolve) => setImmediate(resolve));
    const reopened = presence.opened("app1", "bob");
    reopenWrite.resolve();
    await new Promise((resolve) => setTimeout(resolve, 20));
    closeWrite.resolve();
    await reopened;
    expect(store.presenceWrites.at(-1)).toMatchObject({ userId: "bob", online: true });
    expect(await presence.onlineUsers("app1", ["bob"])).toEqual(new Set(["bob"]));
  });

  it("sees users online on other nodes, and not on a node that stopped or expired", async () => {
    const store = new FakeWebhookStore();
    let clock = Date.now();
    const now = () => clock;
    const a = await startPresence(store, "nodeA", now, 30_000);
    const b = await startPresence(store, "nodeB", now, 30_000);
    await a.opened("app1", "bob");
    await b.opened("app1", "carol");
    expect(await a.onlineUsers("app1", ["bob", "carol", "dave"])).toEqual(new Set(["bob", "carol"]));
    await b.stop();
    expect(await a.onlineUsers("app1", ["bob", "carol"])).toEqual(new Set(["bob"]));
    // nodeA stops renewing (its clock jumps past the validity): its rows stop counting.
    clock += 31_000;
    store.nodes.set("nodeA", clock - 1_000);
    expect(await a.onlineUsers("app1", ["bob"])).toEqual(new Set());
  });

  it("renews the node's validity every third of the ttl while it has streams, and not while it has none", async () => {
    let now = 1_000_000;
    const store = new FakeWebhookStore();
    const presence = await startPresence(store, "node1", () => now, 90);
    const first = store.nodes.get("node1")!;
    // Idle: the renewals (every 30 ms) leave the row alone.
    now += 60;
    await new Promise((r) => setTimeout(r, 100));
    expect(store.nodes.get("node1")).toBe(first);
    // The first stream renews at once (its row must count), and renewals go on while it is open.
    await presence.opened("app1", "bob");
    const renewed = store.nodes.get("node1")!;
    expect(renewed).toBeGreaterThan(first);
    now += 60;
    await vi.waitFor(() => expect(store.nodes.get("node1")).toBeGreaterThan(renewed), { timeout: 5_000 });
  });

  it("rewrites its users after renewals failed (the node may have expired and lost its rows)", async () => {
    const store = new FakeWebhookStore();
    const presence = await startPresence(store, "node1", () => Date.now(), 60);
    await presence.opened("app1", "bob");
    store.failures.set("touchNode", 1);
    // Meanwhile another node dropped this one as expired.
    store.presence.delete("node1");
    await vi.waitFor(() => expect(store.presence.get("node1")?.has("app1\0bob")).toBe(true), { timeout: 5_000 });
  });

  it("store failures are logged, never thrown", async () => {
    const store = new FakeWebhookStore();
    const presence = await startPresence(store);
    store.failures.set("setPresence", 2);
    await expect(presence.opened("app1", "bob")).resolves.toBeUndefined();
    expect(() => presence.closed("app1", "bob")).not.toThrow();
    await vi.waitFor(() => expect(store.failures.get("setPresence")).toBe(0));
    await presence.opened("app1", "bob");
    expect(await presence.onlineUsers("app1", ["bob"])).toEqual(new Set(["bob"]));
  });

  it("stop removes the node and its rows", async () => {
    const store = new FakeWebhookStore();
    const presence = await startPresence(store);
    await presence.opened("app1", "bob");
    await presence.stop();
    expect(store.nodes.has("node1")).toBe(false);
    expect(store.presence.has("node1")).toBe(false);
  });
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
