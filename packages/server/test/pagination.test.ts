// Pagination of every List RPC (rules PAG-1 to PAG-3): walks of three or more pages with inserts
// (and removals) between pages never repeat an item and never miss one that existed at the start
// and still exists; page_size defaults, maximum and negative values; malformed and foreign tokens.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { AppFixture, FakeClock, PROTOCOLS, TestServer, expectError, ids } from "./support.js";

const clock = new FakeClock();
let server: TestServer;
beforeAll(async () => {
  // A clock the test moves: conversations order by activity time, which must differ per group.
  server = await TestServer.start({ now: clock.now });
});
afterAll(async () => {
  await server?.close();
});

interface Page {
  items: string[];
  next: string;
}

/**
 * Walks a listing page by page, calling `between(n)` after page n; returns the pages. Fails on an
 * endless walk.
 */
async function walk(fetchPage: (token: string) => Promise<Page>, between: (n: number) => Promise<void> = async () => {}): Promise<string[][]> {
  const pages: string[][] = [];
  let token = "";
  do {
    const page = await fetchPage(token);
    pages.push(page.items);
    token = page.next;
    if (token) await between(pages.length);
    expect(pages.length).toBeLessThan(100);
  } while (token);
  return pages;
}

/** PAG-1: nothing repeats; everything in `kept` (existed at the start, still exists) was seen. */
function expectSound(pages: string[][], kept: readonly string[]): string[] {
  const seen = pages.flat();
  expect(new Set(seen).size, `repeated items in ${JSON.stringify(pages)}`).toBe(seen.length);
  for (const id of kept) expect(seen, `missed ${id}`).toContain(id);
  return seen;
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  const setup = (users: string[]) => AppFixture.create(server, protocol, { users });

  it("PAG-1: ListGroups walks the caller's groups by group ID across inserts and removals", async () => {
    const app = await setup(["alice", "bob"]);
    const alice = app.user("alice");
    const initial = ["g02", "g04", "g06", "g08", "g10", "g12", "g14"];
    for (const id of initial) await app.group(GroupType.WORK, "alice", ["bob"], id);
    const pages = await walk(
      async (pageToken) => {
        const res = await alice.groups.listGroups({ pageSize: 2, pageToken });
        return { items: res.groups.map((g) => g.groupId), next: res.nextPageToken };
      },
      async (n) => {
        // Behind the walk (never seen), ahead of it (seen), and a removal ahead (not seen).
        await app.group(GroupType.WORK, "alice", [], `g0${n}a`);
        await app.group(GroupType.WORK, "alice", [], `g9${n}`);
        if (n === 1) await app.admin.dismissGroup({ appId: app.appId, groupId: "g14" });
      },
    );
    expect(pages.length).toBeGreaterThanOrEqual(3);
    const seen = expectSound(pages, initial.filter((g) => g !== "g14"));
    expect(seen).not.toContain("g14");
    expect(seen).toEqual([...seen].sort());
    for (const page of pages.slice(0, -1)) expect(page.length).toBeLessThanOrEqual(2);
  });

  it("PAG-1: ListMembers (user and admin) walk members by user ID across joins", async () => {
    const members = ids("m", 8);
    const app = await setup(["alice", ...members, "zed", "aaron", "mz"]);
    const g = await app.group(GroupType.MEETING, "alice", members);
    const initial = ["alice", ...members];
    const fromUser = await walk(
      async (pageToken) => {
        const res = await app.user("alice").groups.listMembers({ groupId: g, pageSize: 3, pageToken });
        return { items: res.members.map((m) => m.userId), next: res.nextPageToken };
      },
      async (n) => {
        if (n === 1) await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["zed", "aaron"] });
      },
    );
    expect(fromUser.length).toBeGreaterThanOrEqual(3);
    const seen = expectSound(fromUser, initial);
    expect(seen).toContain("zed");
    const fromAdmin = await walk(
      async (pageToken) => {
        const res = await app.admin.listMembers({ appId: app.appId, groupId: g, pageSize: 4, pageToken });
        return { items: res.members.map((m) => m.userId), next: res.nextPageToken };
      },
      async (n) => {
        if (n === 1) await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["mz"] });
      },
    );
    expect(fromAdmin.length).toBeGreaterThanOrEqual(3);
    expect(expectSound(fromAdmin, [...initial, "zed", "aaron"])).toContain("mz");
  });

  it("PAG-1: ListJoinRequests walks oldest first across new applications", async () => {
    const applicants = ids("a", 6);
    const app = await setup(["alice", ...applicants, "late1", "late2"]);
    const g = await app.group(GroupType.PUBLIC, "alice");
    for (const a of applicants) {
      clock.advance(1);
      await app.user(a).groups.joinGroup({ groupId: g, message: a });
    }
    const pages = await walk(
      async (pageToken) => {
        const res = await app.user("alice").groups.listJoinRequests({ groupId: g, pageSize: 2, pageToken });
        return { items: res.joinRequests.map((r) => r.userId), next: res.nextPageToken };
      },
      async (n) => {
        clock.advance(1);
        if (n <= 2) await app.user(`late${n}`).groups.joinGroup({ groupId: g });
      },
    );
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(expectSound(pages, applicants)).toEqual([...applicants, "late1", "late2"]);
  });

  it("PAG-1: ListConversations walks by activity (newest first) then group ID; a new conversation goes to the front", async () => {
    const app = await setup(["alice", "bob"]);
    const alice = app.user("alice");
    const initial: string[] = [];
    for (let i = 0; i < 7; i++) {
      clock.advance(1);
      initial.unshift(await app.group(GroupType.WORK, "alice", ["bob"], `c${i}`));
    }
    const pages = await walk(
      async (pageToken) => {
        const res = await alice.conversations.listConversations({ pageSize: 2, pageToken });
        return { items: res.conversations.map((c) => c.groupId), next: res.nextPageToken };
      },
      async (n) => {
        clock.advance(1);
        await app.group(GroupType.WORK, "alice", [], `new${n}`);
      },
    );
    expect(pages.length).toBeGreaterThanOrEqual(4);
    // The walk started before the new ones, which sort in front of it: it sees exactly the initial list.
    expect(expectSound(pages, initial)).toEqual(initial);
    const first = await alice.conversations.listConversations({ pageSize: 3 });
    expect(first.conversations.map((c) => c.groupId)).toEqual(["new3", "new2", "new1"]);
  });

  it("PAG-1: admin ListUsers and ListGroups walk the whole app", async () => {
    const users = ids("u", 7);
    const app = await setup(users);
    for (const id of ["ga", "gc", "ge", "gg", "gi"]) await app.group(GroupType.WORK, "u1", [], id);
    const userPages = await walk(
      async (pageToken) => {
        const res = await app.admin.listUsers({ appId: app.appId, pageSize: 2, pageToken });
        return { items: res.users.map((u) => u.userId), next: res.nextPageToken };
      },
      async (n) => {
        await app.admin.importUsers({ appId: app.appId, users: [{ userId: `u0${n}` }, { userId: `z${n}` }] });
      },
    );
    expect(userPages.length).toBeGreaterThanOrEqual(3);
    const seenUsers = expectSound(userPages, users);
    expect(seenUsers).toContain("z1");
    expect(seenUsers).toEqual([...seenUsers].sort());

    const groupPages = await walk(
      async (pageToken) => {
        const res = await app.admin.listGroups({ appId: app.appId, pageSize: 2, pageToken });
        return { items: res.groups.map((g) => g.groupId), next: res.nextPageToken };
      },
      async (n) => {
        await app.admin.createGroup({ appId: app.appId, type: GroupType.MEETING, groupId: `gz${n}` });
      },
    );
    expect(groupPages.length).toBeGreaterThanOrEqual(3);
    expect(expectSound(groupPages, ["ga", "gc", "ge", "gg", "gi"])).toContain("gz1");
  });

  it("PAG-2: page_size 0 is 50, above 1,000 is 1,000, negative is FIELD_INVALID", async () => {
    const users = ids("p", 51);
    const app = await setup(users);
    const byDefault = await app.admin.listUsers({ appId: app.appId });
    expect(byDefault.users).toHaveLength(50);
    expect(byDefault.nextPageToken).not.toBe("");
    const rest = await app.admin.listUsers({ appId: app.appId, pageToken: byDefault.nextPageToken });
    expect(rest.users).toHaveLength(1);
    expect(rest.nextPageToken).toBe("");
    const huge = await app.admin.listUsers({ appId: app.appId, pageSize: 1_000_000 });
    expect(huge.users).toHaveLength(51);
    expect(huge.nextPageToken).toBe("");
    const g = await app.group(GroupType.WORK, "p1");
    const p1 = app.user("p1");
    const negative = [
      app.admin.listUsers({ appId: app.appId, pageSize: -1 }),
      app.admin.listGroups({ appId: app.appId, pageSize: -1 }),
      app.admin.listMembers({ appId: app.appId, groupId: g, pageSize: -1 }),
      p1.groups.listGroups({ pageSize: -1 }),
      p1.groups.listMembers({ groupId: g, pageSize: -1 }),
      p1.groups.listJoinRequests({ groupId: g, pageSize: -1 }),
      p1.conversations.listConversations({ pageSize: -1 }),
      p1.messages.listMessages({ groupId: g, pageSize: -1 }),
    ];
    await Promise.all(negative.map((call) => expectError(call, Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "page_size" })));
  });

  it("PAG-3: malformed tokens and tokens of another RPC, caller, group or app are PAGE_TOKEN_INVALID", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const other = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"], "pg1");
    const h = await app.group(GroupType.WORK, "alice", ["bob", "carol"], "pg2");
    await app.group(GroupType.WORK, "alice", ["bob"], "pg3");
    for (const gid of ["pg1", "pg2", "pg3"]) await other.group(GroupType.WORK, "alice", ["bob"], gid);
    const alice = app.user("alice");
    const bob = app.user("bob");
    const groupsToken = (await alice.groups.listGroups({ pageSize: 1 })).nextPageToken;
    const membersToken = (await alice.groups.listMembers({ groupId: g, pageSize: 1 })).nextPageToken;
    const adminUsersToken = (await app.admin.listUsers({ appId: app.appId, pageSize: 1 })).nextPageToken;
    expect([groupsToken, membersToken, adminUsersToken].every((t) => t !== "")).toBe(true);
    // A token of the same shape with its scope hash replaced.
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(groupsToken, "base64url").toString()), k: "AAAAAAAAAA" })).toString("base64url");
    // Tokens of the right scope whose key is not an ID (the format is documented, so anyone can
    // build one): rejected before a store sees the key (a NUL would be a PostgreSQL error).
    const withKey = (key: unknown) =>
      Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(groupsToken, "base64url").toString()), a: key })).toString("base64url");
    const invalid = [
      ["a key with a NUL", () => alice.groups.listGroups({ pageToken: withKey("pg1\u0000") })],
      ["a key outside the ID syntax", () => alice.groups.listGroups({ pageToken: withKey("pg 1") })],
      ["garbage", () => alice.groups.listGroups({ pageToken: "not a token!" })],
      ["base64 junk", () => alice.groups.listGroups({ pageToken: "eyJ2IjoxfQ" })],
      ["long", () => alice.groups.listGroups({ pageToken: "A".repeat(5000) })],
      ["forged scope", () => alice.groups.listGroups({ pageToken: forged })],
      ["another RPC", () => alice.conversations.listConversations({ pageToken: groupsToken })],
      ["another RPC (members)", () => alice.groups.listMembers({ groupId: g, pageToken: groupsToken })],
      ["another caller", () => bob.groups.listGroups({ pageToken: groupsToken })],
      ["another group", () => alice.groups.listMembers({ groupId: h, pageToken: membersToken })],
      ["another caller, same group", () => bob.groups.listMembers({ groupId: g, pageToken: membersToken })],
      ["user token on admin RPC", () => app.admin.listMembers({ appId: app.appId, groupId: g, pageToken: membersToken })],
      ["another app", () => other.admin.listUsers({ appId: other.appId, pageToken: adminUsersToken })],
      ["another app's user", () => other.user("alice").groups.listGroups({ pageToken: groupsToken })],
      ["ListMessages", () => alice.messages.listMessages({ groupId: g, pageToken: groupsToken })],
    ] as const;
    for (const [what, call] of invalid) {
      await expectError(call(), Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, { field: "page_token" }).catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
    }
    // The genuine tokens still work where they were issued.
    expect((await alice.groups.listGroups({ pageSize: 1, pageToken: groupsToken })).groups.map((x) => x.groupId)).toEqual(["pg2"]);
  });
});
