// Lists come as one page ({ items, nextPageToken }) or as an async iterator over every page
// (rule PAG-1), for the user client and the admin client alike.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Interceptor } from "@connectrpc/connect";
import { Code, NarrowcastError, Reason, createTextMessage } from "../src/index.js";
import type { NarrowcastClient } from "../src/index.js";
import { rejection, startFixture, textOf } from "./helpers.js";
import type { Fixture, TestApp } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
  }
  return items;
}

/** Counts the calls of one RPC that reach the transport. */
function counter(method: string) {
  const counted = { calls: 0 };
  const interceptor: Interceptor = (next) => async (req) => {
    if (req.method.name === method) {
      counted.calls++;
    }
    return next(req);
  };
  return { counted, interceptor };
}

const users = ["alice", "bob", "carol", "dave", "erin"];

describe("user client lists", () => {
  let app: TestApp;
  let alice: NarrowcastClient;
  beforeAll(async () => {
    app = await fx.app({ users });
    alice = await app.client("alice");
    for (let i = 1; i <= 7; i++) {
      await alice.sendMessage(createTextMessage(`m${i}`), { groupId: app.groupId });
    }
  });

  it("listMembers pages by user ID; the token fetches the next page; the last has no token", async () => {
    const first = await alice.listMembers(app.groupId, { pageSize: 2 });
    expect(first.items.map((m) => m.userId)).toEqual(["alice", "bob"]);
    expect(first.nextPageToken).not.toBe("");
    const second = await alice.listMembers(app.groupId, { pageSize: 2, pageToken: first.nextPageToken });
    expect(second.items.map((m) => m.userId)).toEqual(["carol", "dave"]);
    const third = await alice.listMembers(app.groupId, { pageSize: 2, pageToken: second.nextPageToken });
    expect(third.items.map((m) => m.userId)).toEqual(["erin"]);
    expect(third.nextPageToken).toBe("");
  });

  it("members() walks every page, fetching them as the loop goes", async () => {
    const { counted, interceptor } = counter("ListMembers");
    const client = await app.client("bob", { interceptors: [interceptor] });
    expect((await all(client.members(app.groupId, { pageSize: 2 }))).map((m) => m.userId)).toEqual(users);
    expect(counted.calls).toBe(3);
    // Breaking out of the loop stops fetching.
    for await (const member of client.members(app.groupId, { pageSize: 2 })) {
      expect(member.userId).toBe("alice");
      break;
    }
    expect(counted.calls).toBe(4);
  });

  it("messages() walks back from the latest message, newest first", async () => {
    const messages = await all(alice.messages(app.groupId, { pageSize: 3 }));
    expect(messages.map(textOf)).toEqual(["m7", "m6", "m5", "m4", "m3", "m2", "m1"]);
    expect(messages.map((m) => m.seq)).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  it("messages() with afterSeq walks forward, oldest first; with beforeSeq walks back below it", async () => {
    expect((await all(alice.messages(app.groupId, { afterSeq: 2, pageSize: 2 }))).map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    expect((await all(alice.messages(app.groupId, { beforeSeq: 4, pageSize: 2 }))).map((m) => m.seq)).toEqual([3, 2, 1]);
  });

  it("listMessages pages are ascending by seq; the token continues in the walk's direction", async () => {
    const latest = await alice.listMessages(app.groupId, { pageSize: 3 });
    expect(latest.items.map((m) => m.seq)).toEqual([5, 6, 7]);
    const older = await alice.listMessages(app.groupId, { pageSize: 3, pageToken: latest.nextPageToken });
    expect(older.items.map((m) => m.seq)).toEqual([2, 3, 4]);
    const forward = await alice.listMessages(app.groupId, { afterSeq: 5 });
    expect(forward.items.map((m) => m.seq)).toEqual([6, 7]);
    expect(forward.nextPageToken).toBe("");
  });

  it("a page token used with other anchors is PAGE_TOKEN_INVALID, field page_token (PAG-3)", async () => {
    const latest = await alice.listMessages(app.groupId, { pageSize: 3 });
    const err = await rejection(() => alice.listMessages(app.groupId, { pageSize: 3, afterSeq: 1, pageToken: latest.nextPageToken }));
    expect(err).toBeInstanceOf(NarrowcastError);
    expect(err).toMatchObject({ code: Code.InvalidArgument, reason: Reason.PAGE_TOKEN_INVALID, field: "page_token" });
    const garbage = await rejection(() => alice.listMembers(app.groupId, { pageToken: "not-a-token" }));
    expect(garbage).toMatchObject({ reason: Reason.PAGE_TOKEN_INVALID, field: "page_token" });
  });

  it("groups() and conversations() walk the user's groups and conversations", async () => {
    const client = await app.client("carol");
    for (const groupId of ["x1", "x2", "x3"]) {
      await client.createGroup({ type: "work", groupId });
    }
    expect((await all(client.groups({ pageSize: 2 }))).map((g) => g.groupId).sort()).toEqual([app.groupId, "x1", "x2", "x3"].sort());
    const conversations = await all(client.conversations({ pageSize: 1 }));
    expect(conversations.map((c) => c.groupId).sort()).toEqual([app.groupId, "x1", "x2", "x3"].sort());
    expect(conversations.find((c) => c.groupId === app.groupId)).toMatchObject({ unreadCount: 7, readSeq: 0 });
  });
});

describe("admin client lists", () => {
  it("users(), groups() and members() walk every page", async () => {
    const app = await fx.app({ users });
    await fx.admin.createGroup(app.appId, { type: "meeting", groupId: "z-meeting", ownerId: "bob" });
    expect((await all(fx.admin.users(app.appId, { pageSize: 2 }))).map((u) => u.userId)).toEqual(users);
    expect((await all(fx.admin.groups(app.appId, { pageSize: 1 }))).map((g) => g.groupId)).toEqual([app.groupId, "z-meeting"]);
    expect((await all(fx.admin.members(app.appId, app.groupId, { pageSize: 4 }))).map((m) => m.userId)).toEqual(users);
    const page = await fx.admin.listUsers(app.appId, { pageSize: 3 });
    expect(page.items.map((u) => u.userId)).toEqual(["alice", "bob", "carol"]);
    expect(page.nextPageToken).not.toBe("");
  });
});
