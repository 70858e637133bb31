// Pagination (PAG): every List RPC walked page by page while items are added between pages
// (nothing missing, nothing repeated), page_size defaults / coercion / negative values, and page
// tokens replayed where they were not issued.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import type { AppFixture } from "../fixtures.js";
import { sleep } from "../subscription.js";

interface Page<T> {
  items: T[];
  next: string;
}

/**
 * Walks a listing page by page: `fetch` gets the page token ("" first), `between` runs after each
 * page but the last (to add items). Returns the keys of every page. Fails on pages larger than
 * page_size and on walks that do not end.
 */
async function walk<T>(
  what: string,
  pageSize: number,
  fetch: (pageToken: string) => Promise<Page<T>>,
  key: (item: T) => string,
  between?: (pageIndex: number) => Promise<void>,
): Promise<string[][]> {
  const pages: string[][] = [];
  let token = "";
  for (let i = 0; ; i++) {
    check(i < 200, `${what}: the walk did not end after 200 pages`, "an empty next_page_token", JSON.stringify(token));
    const res = await fetch(token);
    check(res.items.length <= pageSize, `${what}: page ${i + 1} holds more items than page_size`, `≤ ${pageSize}`, String(res.items.length));
    pages.push(res.items.map(key));
    if (res.next === "") break;
    token = res.next;
    await between?.(i);
  }
  return pages;
}

/**
 * Checks a walk: at least `minPages` pages, no item twice, every item of `originals` present and,
 * when given, the whole walk in `order`.
 */
function checkWalk(what: string, pages: string[][], originals: readonly string[], options: { minPages?: number; order?: (a: string, b: string) => number; mustInclude?: readonly string[] } = {}): string[] {
  const all = pages.flat();
  const shown = JSON.stringify(pages);
  check(pages.length >= (options.minPages ?? 3), `${what}: the walk took fewer pages than the test needs`, `≥ ${options.minPages ?? 3} pages`, shown);
  const repeated = [...new Set(all.filter((k, i) => all.indexOf(k) !== i))];
  check(repeated.length === 0, `${what}: the walk returned items twice (PAG-1)`, "every item once", `repeated ${JSON.stringify(repeated)} in pages ${shown}`);
  const missing = originals.filter((k) => !all.includes(k));
  check(missing.length === 0, `${what}: the walk missed items that existed before it began (PAG-1)`, "every original item", `missing ${JSON.stringify(missing)} in pages ${shown}`);
  const notIncluded = (options.mustInclude ?? []).filter((k) => !all.includes(k));
  check(notIncluded.length === 0, `${what}: the walk missed items that lie ahead of it`, JSON.stringify(options.mustInclude), `missing ${JSON.stringify(notIncluded)} in pages ${shown}`);
  if (options.order) {
    const sorted = [...all].sort(options.order);
    expectEqual(all, sorted, `${what}: order of the items across the walk`);
  }
  return all;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const bySeqDesc = (a: string, b: string) => Number(b) - Number(a);
const bySeqAsc = (a: string, b: string) => Number(a) - Number(b);

/** Walks ListMessages in one direction and returns the pages' seqs (each page ascending, as sent). */
async function messagePages(app: AppFixture, user: string, groupId: string, pageSize: number, anchors: { beforeSeq?: bigint; afterSeq?: bigint }, between?: (i: number) => Promise<void>): Promise<string[][]> {
  const messages = app.user(user).messages;
  return walk(
    `ListMessages ${JSON.stringify(anchors, (_, v: unknown) => (typeof v === "bigint" ? Number(v) : v))}`,
    pageSize,
    async (pageToken) => {
      const res = await messages.listMessages({ groupId, pageSize, pageToken, beforeSeq: anchors.beforeSeq, afterSeq: anchors.afterSeq });
      const seqs = res.messages.map((m) => Number(m.seq));
      expectEqual(seqs, [...seqs].sort((a, b) => a - b), "seqs within one ListMessages page (ascending)");
      return { items: res.messages, next: res.nextPageToken };
    },
    (m) => String(m.seq),
    between,
  );
}

export const pagCases = [
  defineCase({
    id: "pag-list-groups-walk",
    rules: ["PAG-1"],
    requirement: "GroupService.ListGroups walked with page_size 2 while the caller joins groups before and after the walk's position returns every original group once, by group ID.",
    async run(ctx) {
      const app = await ctx.createApp();
      await app.importUsers(["alice", "bob"]);
      const originals = ["g-10", "g-20", "g-30", "g-40", "g-50", "g-60", "g-70"];
      for (const id of originals) await app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: id });
      const pages = await walk(
        "bob's ListGroups",
        2,
        async (pageToken) => {
          const res = await app.user("bob").groups.listGroups({ pageSize: 2, pageToken });
          return { items: res.groups, next: res.nextPageToken };
        },
        (g) => g.groupId,
        async (i) => {
          if (i > 3) return;
          await app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: `g-0${i}` });
          await app.createGroup(GroupType.MEETING, { owner: "bob", groupId: `g-9${i}` });
          await app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: `g-${i + 1}5` });
        },
      );
      checkWalk("bob's ListGroups", pages, originals, { order: byString, mustInclude: ["g-90", "g-91"] });
    },
  }),
  defineCase({
    id: "pag-list-members-walk",
    rules: ["PAG-1"],
    requirement:
      "GroupService.ListMembers walked with page_size 3 while members are added before and after the walk's position, and an already returned one is removed, returns every original member once, by user ID.",
    async run(ctx) {
      const originals = ["alice", "m-10", "m-20", "m-30", "m-40", "m-50", "m-60", "m-70", "m-80"];
      const w = await ctx.world({ members: originals, others: ["m-00", "m-01", "m-02", "m-03", "m-90", "m-91", "m-92", "m-93", "m-35", "m-55"] });
      const pages = await walk(
        "ListMembers",
        3,
        async (pageToken) => {
          const res = await w.user("m-40").groups.listMembers({ groupId: w.groupId, pageSize: 3, pageToken });
          return { items: res.members, next: res.nextPageToken };
        },
        (m) => m.userId,
        async (i) => {
          if (i > 3) return;
          const extra = [`m-0${i}`, `m-9${i}`, ...(i === 0 ? ["m-35"] : i === 1 ? ["m-55"] : [])];
          await ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: extra });
          // Removing an item the walk already returned must not make it skip one.
          if (i === 1) await ctx.admin.removeMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["m-10"] });
        },
      );
      checkWalk("ListMembers", pages, originals, { order: byString, mustInclude: ["m-90", "m-91"] });
    },
  }),
  defineCase({
    id: "pag-list-join-requests-walk",
    rules: ["PAG-1", "GRP-3"],
    requirement:
      "GroupService.ListJoinRequests walked with page_size 2 while new requests arrive and a pending applicant repeats JoinGroup returns every original request once, oldest first (a repeated JoinGroup keeps its place).",
    async run(ctx) {
      const applicants = ["a-1", "a-2", "a-3", "a-4", "a-5", "a-6", "a-7"];
      const w = await ctx.world({ type: GroupType.PUBLIC, members: ["alice"], others: [...applicants, "b-0", "b-1", "b-2", "b-3"] });
      for (const id of applicants) {
        await w.user(id).groups.joinGroup({ groupId: w.groupId, message: `from ${id}` });
        await sleep(2);
      }
      const times = new Map<string, number>();
      const pages = await walk(
        "ListJoinRequests",
        2,
        async (pageToken) => {
          const res = await w.user("alice").groups.listJoinRequests({ groupId: w.groupId, pageSize: 2, pageToken });
          for (const r of res.joinRequests) times.set(r.userId, Number(r.createTime?.seconds ?? 0n) * 1000 + (r.createTime?.nanos ?? 0) / 1e6);
          return { items: res.joinRequests, next: res.nextPageToken };
        },
        (r) => r.userId,
        async (i) => {
          if (i > 3) return;
          await w.user(`b-${i}`).groups.joinGroup({ groupId: w.groupId, message: "late" });
          if (i === 0) await w.user("a-6").groups.joinGroup({ groupId: w.groupId, message: "again, please" });
        },
      );
      const all = checkWalk("ListJoinRequests", pages, applicants);
      expectEqual(all.filter((id) => id.startsWith("a-")), applicants, "original requests in the walk's order (oldest first; a-6's repeat keeps its place)");
      const stamps = all.map((id) => times.get(id) ?? 0);
      check(stamps.every((t, i) => i === 0 || t >= stamps[i - 1]!), "ListJoinRequests is not ordered by create_time", "non-decreasing create_time", JSON.stringify(all.map((id, i) => [id, stamps[i]])));
    },
  }),
  defineCase({
    id: "pag-list-conversations-walk",
    rules: ["PAG-1", "CNV-1"],
    requirement:
      "ListConversations walked with page_size 2 while new groups appear (at the front) and already-returned conversations get new activity returns every original conversation exactly once, most recently active first.",
    async run(ctx) {
      const app = await ctx.createApp();
      await app.importUsers(["alice", "bob"]);
      const originals = ["c-1", "c-2", "c-3", "c-4", "c-5", "c-6", "c-7"];
      for (const id of originals) await app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: id });
      for (const id of originals) {
        await app.adminSend("alice", id, `activity in ${id}`);
        await sleep(3);
      }
      const returned: string[] = [];
      const pages = await walk(
        "bob's ListConversations",
        2,
        async (pageToken) => {
          const res = await app.user("bob").conversations.listConversations({ pageSize: 2, pageToken });
          returned.push(...res.conversations.map((c) => c.groupId));
          return { items: res.conversations, next: res.nextPageToken };
        },
        (c) => c.groupId,
        async (i) => {
          if (i > 3) return;
          // New conversations appear at the front; new activity in an already returned one moves it there.
          await app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: `new-${i}` });
          const done = returned.find((id) => id.startsWith("c-"));
          if (done) await app.adminSend("alice", done, "bump a conversation the walk already returned");
        },
      );
      const all = checkWalk("bob's ListConversations", pages, originals);
      expectEqual(all.filter((id) => id.startsWith("c-")), [...originals].reverse(), "original conversations in the walk's order (most recent activity first)");
    },
  }),
  defineCase({
    id: "pag-list-messages-walk",
    rules: ["PAG-1", "MSG-12", "TGT-4"],
    requirement:
      "ListMessages walked with page_size 3 while messages are sent between pages: backward from the latest and from before_seq it returns every original visible message once, descending by page; forward from after_seq it returns them once, ascending, and reaches the messages sent meanwhile; a targeted message to others is skipped.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = [];
      for (let i = 1; i <= 10; i++) sent.push(await w.app.adminSend("alice", w.groupId, i === 5 ? { text: "for carol", receiverIds: ["carol"] } : `m${i}`));
      const visible = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i)).filter((s) => s !== "5");
      const more = async () => {
        await w.app.adminSend("alice", w.groupId, "sent during the walk");
      };
      const backward = await messagePages(w.app, "bob", w.groupId, 3, {}, async (i) => (i < 3 ? more() : undefined));
      const b = checkWalk("bob's backward walk from the latest", backward.map((p) => [...p].reverse()), visible(1, 10), { order: bySeqDesc });
      check(b.every((s) => Number(s) <= 10), "the backward walk returned messages sent after it began", "seqs ≤ 10", JSON.stringify(b));
      const anchored = await messagePages(w.app, "bob", w.groupId, 3, { beforeSeq: 9n }, async (i) => (i < 2 ? more() : undefined));
      checkWalk("bob's backward walk from before_seq 9", anchored.map((p) => [...p].reverse()), visible(1, 8), { order: bySeqDesc });
      const latestBefore = Number((await w.user("alice").messages.listMessages({ groupId: w.groupId, pageSize: 1 })).messages[0]?.seq ?? 0n);
      const forward = await messagePages(w.app, "bob", w.groupId, 3, { afterSeq: 2n }, async (i) => (i < 3 ? more() : undefined));
      const latestAfter = Number((await w.user("alice").messages.listMessages({ groupId: w.groupId, pageSize: 1 })).messages[0]?.seq ?? 0n);
      const f = checkWalk("bob's forward walk from after_seq 2", forward, visible(3, latestBefore), { order: bySeqAsc });
      expectEqual(Number(f.at(-1)), latestAfter, "last seq of the forward walk (it reaches the messages sent during the walk)");
      check(!f.includes("5"), "a walk returned the message targeted to carol", "seq 5 skipped", JSON.stringify(f));
    },
  }),
  defineCase({
    id: "pag-admin-lists-walk",
    rules: ["PAG-1", "ADM-10"],
    requirement: "Admin ListUsers, ListGroups and ListMembers walked with page_size 3 while users, groups and members are added before and after the walk's position return every original item once, by ID.",
    async run(ctx) {
      const app = await ctx.createApp();
      const users = ["u-10", "u-20", "u-30", "u-40", "u-50", "u-60", "u-70", "u-80"];
      await app.importUsers(users);
      const appId = app.appId;
      const userPages = await walk(
        "admin ListUsers",
        3,
        async (pageToken) => {
          const res = await ctx.admin.listUsers({ appId, pageSize: 3, pageToken });
          return { items: res.users, next: res.nextPageToken };
        },
        (u) => u.userId,
        async (i) => (i < 4 ? app.importUsers([`u-0${i}`, `u-9${i}`, `u-${i + 2}5`]) : undefined),
      );
      checkWalk("admin ListUsers", userPages, users, { order: byString, mustInclude: ["u-90", "u-91"] });
      const groups = ["g-10", "g-20", "g-30", "g-40", "g-50", "g-60", "g-70"];
      for (const id of groups) await app.createGroup(GroupType.COMMUNITY, { owner: "u-10", groupId: id });
      const groupPages = await walk(
        "admin ListGroups",
        3,
        async (pageToken) => {
          const res = await ctx.admin.listGroups({ appId, pageSize: 3, pageToken });
          return { items: res.groups, next: res.nextPageToken };
        },
        (g) => g.groupId,
        async (i) => {
          if (i >= 4) return;
          for (const id of [`g-0${i}`, `g-9${i}`]) await app.createGroup(GroupType.WORK, { owner: "", groupId: id });
        },
      );
      checkWalk("admin ListGroups", groupPages, groups, { order: byString, mustInclude: ["g-90", "g-91"] });
      await ctx.admin.addMembers({ appId, groupId: "g-10", userIds: users.slice(1) });
      const memberPages = await walk(
        "admin ListMembers",
        3,
        async (pageToken) => {
          const res = await ctx.admin.listMembers({ appId, groupId: "g-10", pageSize: 3, pageToken });
          return { items: res.members, next: res.nextPageToken };
        },
        (m) => m.userId,
        async (i) => (i < 3 ? void (await ctx.admin.addMembers({ appId, groupId: "g-10", userIds: [`u-0${i}`, `u-9${i}`] })) : undefined),
      );
      checkWalk("admin ListMembers", memberPages, users, { order: byString, mustInclude: ["u-90", "u-91"] });
    },
  }),
  defineCase({
    id: "pag-page-size",
    rules: ["PAG-2", "ERR-3"],
    requirement:
      "page_size 0 means the default (at most 50 items, ListMessages 20) with a next_page_token when more follow; values above the maximum (1,000; ListMessages 100) are coerced, not rejected; a negative page_size is InvalidArgument FIELD_INVALID (field page_size) on every List RPC.",
    async run(ctx) {
      const members = ["alice", ...Array.from({ length: 54 }, (_, i) => `u-${String(i).padStart(2, "0")}`)];
      const w = await ctx.world({ members, others: ["erin"] });
      const alice = w.user("alice");
      await w.user("erin").groups.joinGroup({ groupId: await w.app.createGroup(GroupType.PUBLIC, { owner: "alice", groupId: "pub" }) });
      await w.app.sendMany("alice", w.groupId, 25);
      const appId = w.app.appId;
      const lists: [string, (pageSize: number) => Promise<{ count: number; next: string }>, number, number][] = [
        ["admin ListUsers", async (pageSize) => ((r) => ({ count: r.users.length, next: r.nextPageToken }))(await ctx.admin.listUsers({ appId, pageSize })), 50, 1000],
        ["admin ListMembers", async (pageSize) => ((r) => ({ count: r.members.length, next: r.nextPageToken }))(await ctx.admin.listMembers({ appId, groupId: w.groupId, pageSize })), 50, 1000],
        ["ListMembers", async (pageSize) => ((r) => ({ count: r.members.length, next: r.nextPageToken }))(await alice.groups.listMembers({ groupId: w.groupId, pageSize })), 50, 1000],
        ["ListMessages", async (pageSize) => ((r) => ({ count: r.messages.length, next: r.nextPageToken }))(await alice.messages.listMessages({ groupId: w.groupId, pageSize })), 20, 100],
      ];
      for (const [what, list, defaultSize, max] of lists) {
        const d = await list(0);
        check(d.count > 0 && d.count <= defaultSize && d.next !== "", `${what} with page_size 0 did not use the default`, `1..${defaultSize} items and a next_page_token`, `${d.count} items, token ${JSON.stringify(d.next)}`);
        for (const size of [max + 1, 2_147_483_647]) {
          const big = await list(size);
          // A page may hold fewer items than page_size (PAG-2): only the bounds are checked.
          check(big.count > 0 && big.count <= max, `${what} with page_size ${size} was not coerced to the maximum`, `1..${max} items`, `${big.count} items`);
        }
      }
      const negative: [string, () => Promise<unknown>][] = [
        ["ListGroups", () => alice.groups.listGroups({ pageSize: -1 })],
        ["ListMembers", () => alice.groups.listMembers({ groupId: w.groupId, pageSize: -1 })],
        ["ListJoinRequests", () => alice.groups.listJoinRequests({ groupId: "pub", pageSize: -1 })],
        ["ListConversations", () => alice.conversations.listConversations({ pageSize: -1 })],
        ["ListMessages", () => alice.messages.listMessages({ groupId: w.groupId, pageSize: -1 })],
        ["admin ListUsers", () => ctx.admin.listUsers({ appId, pageSize: -1 })],
        ["admin ListGroups", () => ctx.admin.listGroups({ appId, pageSize: -2_147_483_648 })],
        ["admin ListMembers", () => ctx.admin.listMembers({ appId, groupId: w.groupId, pageSize: -1 })],
      ];
      for (const [what, call] of negative) await expectError(call(), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "page_size", what: `${what} with a negative page_size` });
    },
  }),
  defineCase({
    id: "pag-page-token-invalid",
    rules: ["PAG-3"],
    requirement:
      "A malformed page token, or one issued for another RPC, another caller, another group, another app or other ListMessages anchors, is InvalidArgument PAGE_TOKEN_INVALID (field page_token) on every List RPC.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol"], others: ["erin", "frank", "gina"] });
      const appId = w.app.appId;
      const g2 = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob", "carol"], groupId: "g2" });
      const pub = await w.app.createGroup(GroupType.PUBLIC, { owner: "alice", groupId: "pub" });
      for (const u of ["erin", "frank", "gina"]) await w.user(u).groups.joinGroup({ groupId: pub });
      await w.app.createGroup(GroupType.WORK, { owner: "carol", members: ["bob"], groupId: "g3" });
      for (let i = 0; i < 3; i++) await w.app.adminSend("alice", w.groupId, `m${i}`);
      const other = await ctx.world();
      const alice = w.user("alice");
      const bob = w.user("bob");
      const need = (what: string, token: string) => {
        check(token !== "", `${what} returned no next_page_token (the test needs one)`);
        return token;
      };
      const groupsToken = need("bob's ListGroups page_size 1", (await bob.groups.listGroups({ pageSize: 1 })).nextPageToken);
      const membersToken = need("ListMembers page_size 1", (await alice.groups.listMembers({ groupId: w.groupId, pageSize: 1 })).nextPageToken);
      const requestsToken = need("ListJoinRequests page_size 1", (await alice.groups.listJoinRequests({ groupId: pub, pageSize: 1 })).nextPageToken);
      const convToken = need("ListConversations page_size 1", (await bob.conversations.listConversations({ pageSize: 1 })).nextPageToken);
      const messagesToken = need("ListMessages page_size 1", (await bob.messages.listMessages({ groupId: w.groupId, pageSize: 1 })).nextPageToken);
      const usersToken = need("admin ListUsers page_size 1", (await ctx.admin.listUsers({ appId, pageSize: 1 })).nextPageToken);
      const adminGroupsToken = need("admin ListGroups page_size 1", (await ctx.admin.listGroups({ appId, pageSize: 1 })).nextPageToken);
      const adminMembersToken = need("admin ListMembers page_size 1", (await ctx.admin.listMembers({ appId, groupId: w.groupId, pageSize: 1 })).nextPageToken);

      const garbage = ["garbage", "!!!", Buffer.from(JSON.stringify({ v: 1 })).toString("base64url"), "A".repeat(5000)];
      const rpcs: [string, (pageToken: string) => Promise<unknown>][] = [
        ["ListGroups", (pageToken) => bob.groups.listGroups({ pageSize: 1, pageToken })],
        ["ListMembers", (pageToken) => alice.groups.listMembers({ groupId: w.groupId, pageSize: 1, pageToken })],
        ["ListJoinRequests", (pageToken) => alice.groups.listJoinRequests({ groupId: pub, pageSize: 1, pageToken })],
        ["ListConversations", (pageToken) => bob.conversations.listConversations({ pageSize: 1, pageToken })],
        ["ListMessages", (pageToken) => bob.messages.listMessages({ groupId: w.groupId, pageSize: 1, pageToken })],
        ["admin ListUsers", (pageToken) => ctx.admin.listUsers({ appId, pageSize: 1, pageToken })],
        ["admin ListGroups", (pageToken) => ctx.admin.listGroups({ appId, pageSize: 1, pageToken })],
        ["admin ListMembers", (pageToken) => ctx.admin.listMembers({ appId, groupId: w.groupId, pageSize: 1, pageToken })],
      ];
      for (const [rpc, call] of rpcs) {
        for (const token of garbage) {
          await expectError(call(token), Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, { field: "page_token", what: `${rpc} with page token ${JSON.stringify(token.length > 20 ? `${token.slice(0, 20)}…` : token)}` });
        }
      }
      const misplaced: [string, () => Promise<unknown>][] = [
        ["a ListGroups token passed to ListConversations (another RPC)", () => bob.conversations.listConversations({ pageSize: 1, pageToken: groupsToken })],
        ["a ListMembers token passed to ListJoinRequests (another RPC)", () => alice.groups.listJoinRequests({ groupId: w.groupId, pageSize: 1, pageToken: membersToken })],
        ["a user ListMembers token passed to admin ListMembers", () => ctx.admin.listMembers({ appId, groupId: w.groupId, pageSize: 1, pageToken: membersToken })],
        ["an admin ListGroups token passed to user ListGroups", () => bob.groups.listGroups({ pageSize: 1, pageToken: adminGroupsToken })],
        ["a ListConversations token passed to ListGroups", () => bob.groups.listGroups({ pageSize: 1, pageToken: convToken })],
        ["a ListMembers token of g1 used for g2 (another group)", () => alice.groups.listMembers({ groupId: g2, pageSize: 1, pageToken: membersToken })],
        ["a ListMessages token of g1 used for g2 (another group)", () => bob.messages.listMessages({ groupId: g2, pageSize: 1, pageToken: messagesToken })],
        ["an admin ListMembers token of g1 used for g2", () => ctx.admin.listMembers({ appId, groupId: g2, pageSize: 1, pageToken: adminMembersToken })],
        ["bob's ListGroups token used by carol (another caller)", () => w.user("carol").groups.listGroups({ pageSize: 1, pageToken: groupsToken })],
        ["bob's ListConversations token used by carol", () => w.user("carol").conversations.listConversations({ pageSize: 1, pageToken: convToken })],
        ["bob's ListMessages token used by carol", () => w.user("carol").messages.listMessages({ groupId: w.groupId, pageSize: 1, pageToken: messagesToken })],
        ["alice's ListMembers token used by bob", () => bob.groups.listMembers({ groupId: w.groupId, pageSize: 1, pageToken: membersToken })],
        ["an admin ListUsers token of one app used for another app", () => ctx.admin.listUsers({ appId: other.app.appId, pageSize: 1, pageToken: usersToken })],
        ["an admin ListGroups token of one app used for another app", () => ctx.admin.listGroups({ appId: other.app.appId, pageSize: 1, pageToken: adminGroupsToken })],
        ["a backward ListMessages token used with after_seq", () => bob.messages.listMessages({ groupId: w.groupId, pageSize: 1, afterSeq: 1n, pageToken: messagesToken })],
      ];
      for (const [what, call] of misplaced) {
        await expectError(call(), Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, { field: "page_token", what });
      }
      // Each token still works where it was issued.
      const next = await alice.groups.listJoinRequests({ groupId: pub, pageSize: 1, pageToken: requestsToken });
      expectEqual(next.joinRequests.map((r) => r.userId), ["frank"], "the second page of join requests with its own token");
      const page2 = await bob.groups.listGroups({ pageSize: 1, pageToken: groupsToken });
      expectEqual(page2.groups.length, 1, "groups on bob's second page with his own token");
    },
  }),
  defineCase({
    id: "pag-token-grants-nothing",
    rules: ["PAG-3", "AUTH-5"],
    requirement: "A page token grants nothing: a caller who left the group since it was issued is PermissionDenied NOT_A_MEMBER when using it.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      for (let i = 0; i < 3; i++) await w.app.adminSend("alice", w.groupId, `m${i}`);
      const bob = w.user("bob");
      const members = (await bob.groups.listMembers({ groupId: w.groupId, pageSize: 1 })).nextPageToken;
      const messages = (await bob.messages.listMessages({ groupId: w.groupId, pageSize: 1 })).nextPageToken;
      check(members !== "" && messages !== "", "a first page of 1 had no next_page_token (the test needs one)");
      await bob.groups.leaveGroup({ groupId: w.groupId });
      await expectError(bob.groups.listMembers({ groupId: w.groupId, pageSize: 1, pageToken: members }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
        what: "ListMembers with a page token, after leaving the group",
      });
      await expectError(bob.messages.listMessages({ groupId: w.groupId, pageSize: 1, pageToken: messages }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
        what: "ListMessages with a page token, after leaving the group",
      });
    },
  }),
];
