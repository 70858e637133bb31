// The `narrowcast` CLI end to end: the bin is spawned as a user would run it, against a
// real server, and its --json output (and some readable output) is checked.
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "@narrowcast/server";
import type { RunningServer } from "@narrowcast/server";

const bin = fileURLToPath(new URL("../bin/narrowcast.js", import.meta.url));
// The bin runs the TypeScript sources (tsx maps its import through tsconfig.json "paths"): no build needed.
const node = ["--import", "tsx", bin];

let server: RunningServer;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  server = await startServer({ port: 0 });
  env = { ...process.env, NARROWCAST_URL: server.url, NARROWCAST_ADMIN_KEY: server.adminKey, NARROWCAST_TOKEN: "" };
});
afterAll(async () => {
  await server?.close();
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...node, ...args], { env: { ...env, ...extraEnv } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command that must succeed and returns its parsed --json output. */
async function json(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const result = await run([...args, "--json"], extraEnv);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

/** A running `tail`; `until` waits for an output line that matches. */
class Tail {
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(token: string, jsonOutput: boolean) {
    this.child = spawn(process.execPath, [...node, "tail", ...(jsonOutput ? ["--json"] : [])], {
      env: { ...env, NARROWCAST_TOKEN: token },
    });
    this.exited = new Promise((resolve) => this.child.on("close", resolve));
    readLines(this.child.stdout, (line) => this.push(this.lines, line));
    readLines(this.child.stderr, (line) => this.push(this.stderr, line));
  }

  until(match: (line: string) => boolean): Promise<string> {
    const found = [...this.lines, ...this.stderr].find(match);
    return found !== undefined ? Promise.resolve(found) : new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Parsed JSON events (for --json tails). */
  events(): { type: string; messageReceived?: { message: { elements: { text?: { text: string } }[]; receiverIds?: string[] } } }[] {
    return this.lines.map((l) => JSON.parse(l));
  }

  texts(): string[] {
    return this.events().flatMap((e) => (e.type === "messageReceived" ? [e.messageReceived?.message.elements[0].text?.text ?? ""] : []));
  }

  interrupt(): Promise<number | null> {
    this.child.kill("SIGINT");
    return this.exited;
  }

  private push(into: string[], line: string): void {
    into.push(line);
    this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
  }
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = "";
  stream.on("data", (chunk) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
    }
  });
}

// Every command is a new Node.js process (about a second each, more on a loaded CI machine).
describe("narrowcast CLI", { timeout: 60_000 }, () => {
  let appId: string;
  const tokens: Record<string, string> = {};

  it("admin: create-app, create-users, create-group, add-members, token", async () => {
    const app = await json(["admin", "create-app", "--plan", "ultimate", "--name", "cli"]);
    expect(app).toMatchObject({ name: "cli", plan: "PLAN_ULTIMATE" });
    expect(app.secret).not.toBe("");
    appId = app.appId;
    const withApp = { NARROWCAST_APP: appId };

    expect(await json(["admin", "create-users", "alice", "bob", "carol", "dave"], withApp)).toEqual({
      appId,
      users: [{ userId: "alice" }, { userId: "bob" }, { userId: "carol" }, { userId: "dave" }],
    });
    const group = await json(["admin", "create-group", "--type", "work", "--owner", "alice", "--members", "bob,carol", "--id", "team"], withApp);
    expect(group).toMatchObject({ groupId: "team", type: "GROUP_TYPE_WORK", ownerId: "alice", memberCount: 3 });
    const added = await json(["admin", "add-members", "--group", "team", "--members", "dave"], withApp);
    expect(added.members.map((m: { userId: string }) => m.userId)).toEqual(["dave"]);

    // Plain output of `admin token` is the token alone, for $(...).
    await Promise.all(
      ["alice", "bob", "carol"].map(async (user) => {
        const result = await run(["admin", "token", "--app", appId, "--user", user]);
        expect(result.code).toBe(0);
        tokens[user] = result.stdout.trim();
        expect(tokens[user].split(".")).toHaveLength(3);
      }),
    );
  });

  it("send --to: only the receiver's tail prints the targeted message", async () => {
    const bob = new Tail(tokens.bob, true);
    const carol = new Tail(tokens.carol, true);
    try {
      await Promise.all([bob.until((l) => l.includes('"ready"')), carol.until((l) => l.includes('"ready"'))]);

      const targeted = await json(["send", "--group", "team", "--to", "bob", "--text", "for bob only"], { NARROWCAST_TOKEN: tokens.alice });
      expect(targeted).toMatchObject({ groupId: "team", receiverIds: ["bob"], senderId: "alice" });
      // Canonical protobuf JSON: int64 seq as a string.
      expect(targeted.seq).toBe("1");

      const plain = await run(["send", "--group", "team", "hello", "everyone"], { NARROWCAST_TOKEN: tokens.alice });
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/^Sent team #\d+ alice: hello everyone\n$/);

      await Promise.all([bob.until((l) => l.includes("hello everyone")), carol.until((l) => l.includes("hello everyone"))]);
      expect(bob.texts()).toEqual(["for bob only", "hello everyone"]);
      expect(carol.texts()).toEqual(["hello everyone"]);
      expect(bob.events().find((e) => e.type === "messageReceived")?.messageReceived?.message.receiverIds).toEqual(["bob"]);
    } finally {
      expect(await bob.interrupt()).toBe(0);
      expect(await carol.interrupt()).toBe(0);
    }
  });

  it("tail without --json prints one readable line per event", async () => {
    const bob = new Tail(tokens.bob, false);
    try {
      await bob.until((l) => l.startsWith("Listening"));
      await run(["send", "--group", "team", "--receiver", "bob", "--text", "psst"], { NARROWCAST_TOKEN: tokens.alice });
      const line = await bob.until((l) => l.includes("psst"));
      expect(line).toMatch(/^message +team #\d+ alice → bob: psst$/);
    } finally {
      expect(await bob.interrupt()).toBe(0);
    }
  });

  it("history and conversations show each user only what they may see", async () => {
    const [bobHistory, carolHistory, bobConversations] = await Promise.all([
      json(["history", "--group", "team"], { NARROWCAST_TOKEN: tokens.bob }),
      json(["history", "--group", "team"], { NARROWCAST_TOKEN: tokens.carol }),
      json(["conversations"], { NARROWCAST_TOKEN: tokens.bob }),
    ]);
    const texts = (page: { messages: { elements: { text: { text: string } }[] }[] }) =>
      page.messages.map((m) => m.elements[0].text.text);
    expect(texts(bobHistory)).toEqual(["for bob only", "hello everyone", "psst"]);
    expect(texts(carolHistory)).toEqual(["hello everyone"]);
    expect(bobConversations.conversations).toHaveLength(1);
    expect(bobConversations.conversations[0]).toMatchObject({ groupId: "team", unreadCount: 1 });
    expect(bobHistory.nextPageToken).toBe("");
    expect(bobConversations.conversations[0].lastMessage.elements[0].text.text).toBe("psst");

    const readable = await run(["history", "--group", "team"], { NARROWCAST_TOKEN: tokens.carol });
    expect(readable.stdout).toMatch(/^team #2 alice: hello everyone\n$/);
  });

  it("read and recall", async () => {
    const read = await json(["read", "--group", "team"], { NARROWCAST_TOKEN: tokens.bob });
    expect(read).toMatchObject({ groupId: "team" });
    expect(read.unreadCount ?? 0).toBe(0);
    const sent = await json(["send", "--group", "team", "--text", "typo"], { NARROWCAST_TOKEN: tokens.alice });
    const recalled = await json(["recall", "--group", "team", "--message", sent.messageId], { NARROWCAST_TOKEN: tokens.alice });
    expect(recalled).toMatchObject({ messageId: sent.messageId, recall: { recalledBy: "alice" } });
  });

  it("edit: prints the edited message, marked (edited) in readable output and in tail", async () => {
    const asAlice = { NARROWCAST_TOKEN: tokens.alice };
    const bob = new Tail(tokens.bob, false);
    try {
      await bob.until((l) => l.startsWith("Listening"));
      const sent = await json(["send", "--group", "team", "--text", "teh plan"], asAlice);
      const edited = await json(["edit", "--group", "team", "--message", sent.messageId, "--text", "the plan"], asAlice);
      expect(edited).toMatchObject({
        messageId: sent.messageId,
        seq: sent.seq,
        senderId: "alice",
        elements: [{ text: { text: "the plan" } }],
        edit: { editCount: 1, editTime: expect.any(String) },
      });

      const readable = await run(["edit", "--group", "team", "--message", sent.messageId, "the", "final", "plan"], asAlice);
      expect(readable.stderr).toBe("");
      expect(readable.stdout).toMatch(/^Edited team #\d+ alice: the final plan \(edited\)\n$/);
      const line = await bob.until((l) => l.startsWith("edited") && l.includes("the final plan"));
      expect(line).toMatch(/^edited +team #\d+ alice: the final plan \(edited\)$/);

      const [notMine, empty] = await Promise.all([
        run(["edit", "--group", "team", "--message", sent.messageId, "--text", "mine now"], { NARROWCAST_TOKEN: tokens.bob }),
        run(["edit", "--group", "team", "--message", sent.messageId, "--json"], asAlice),
      ]);
      expect(notMine.code).toBe(1);
      expect(notMine.stderr).toMatch(/EDIT_NOT_ALLOWED.*\(field message_id\)/);
      expect(empty.code).toBe(1);
      expect(JSON.parse(empty.stderr)).toMatchObject({ error: { reason: "EMPTY_MESSAGE", field: "elements", local: true } });
    } finally {
      expect(await bob.interrupt()).toBe(0);
    }
  });

  it("react (--remove) and reactions: counts where a message is printed, reaction lines in tail, paged listing", async () => {
    const asAlice = { NARROWCAST_TOKEN: tokens.alice };
    const asBob = { NARROWCAST_TOKEN: tokens.bob };
    const asCarol = { NARROWCAST_TOKEN: tokens.carol };
    const carol = new Tail(tokens.carol, false);
    try {
      await carol.until((l) => l.startsWith("Listening"));
      const sent = await json(["send", "--group", "team", "--text", "pizza?"], asAlice);
      const at = ["--group", "team", "--message", sent.messageId];

      const readable = await run(["react", ...at, "🍕"], asBob);
      expect(readable.stderr).toBe("");
      expect(readable.stdout).toBe(`Reacted 🍕 to team #${sent.seq} alice: pizza? {🍕 ×1 (you)}\n`);
      const added = await json(["react", ...at, "🍕"], asAlice);
      expect(added).toMatchObject({ messageId: sent.messageId, reactions: [{ reaction: "🍕", count: 2, callerReacted: true }] });
      expect(await carol.until((l) => l.startsWith("reaction") && l.includes("alice"))).toBe(
        `reaction     team #${sent.seq} alice added 🍕 (now ×2)`,
      );

      const [history, firstPage, all, filtered] = await Promise.all([
        run(["history", "--group", "team", "--page-size", "1"], asCarol),
        run(["reactions", ...at, "--page-size", "1"], asCarol),
        json(["reactions", ...at, "--page-size", "1", "--all"], asCarol),
        json(["reactions", ...at, "--reaction", "🎉"], asCarol),
      ]);
      // Other users' counts show in history, without their flag.
      expect(history.stdout.split("\n")[0]).toBe(`team #${sent.seq} alice: pizza? {🍕 ×2}`);
      expect(firstPage.stdout).toMatch(/^🍕 bob \S+Z\n\(more: --page-token \S+, or --all\)\n$/);
      expect(all.reactions.map((r: { reaction: string; userId: string }) => [r.reaction, r.userId])).toEqual([
        ["🍕", "bob"],
        ["🍕", "alice"],
      ]);
      expect(all.reactions[0].createTime).toEqual(expect.any(String));
      expect(all.nextPageToken).toBe("");
      expect(filtered).toEqual({ reactions: [], nextPageToken: "" });

      const removed = await run(["react", ...at, "--remove", "🍕"], asBob);
      expect(removed.stdout).toBe(`Removed 🍕 from team #${sent.seq} alice: pizza? {🍕 ×1}\n`);
      expect(await carol.until((l) => l.includes("bob removed"))).toBe(`reaction     team #${sent.seq} bob removed 🍕 (now ×1)`);

      // A reaction the server would refuse fails locally (RCT-2); one the user may not see is not found.
      const [blank, hidden] = await Promise.all([
        run(["react", ...at, "   ", "--json"], asBob),
        run(["react", "--group", "team", "--message", "no-such-message", "👍"], asBob),
      ]);
      expect(blank.code).toBe(1);
      expect(JSON.parse(blank.stderr)).toMatchObject({ error: { reason: "FIELD_INVALID", field: "reaction", local: true } });
      expect(hidden.code).toBe(1);
      expect(hidden.stderr).toMatch(/MESSAGE_NOT_FOUND.*\(field message_id\)/);
    } finally {
      expect(await carol.interrupt()).toBe(0);
    }
  });

  it("reply: prints the reply with the quoted ID; history shows the quote; a reply to a targeted message must be targeted", async () => {
    const asAlice = { NARROWCAST_TOKEN: tokens.alice };
    const asBob = { NARROWCAST_TOKEN: tokens.bob };
    const carol = new Tail(tokens.carol, false);
    try {
      await carol.until((l) => l.startsWith("Listening"));
      const [quoted, secret] = await Promise.all([
        json(["send", "--group", "team", "--text", "pizza at noon?"], asAlice),
        json(["send", "--group", "team", "--to", "bob", "--text", "just us"], asAlice),
      ]);

      const readable = await run(["reply", "--group", "team", "--message", quoted.messageId, "count", "me", "in"], asBob);
      expect(readable.stderr).toBe("");
      const seq = readable.stdout.match(/^Replied team #(\d+) /)?.[1];
      // The response and the event carry the quoted message's ID alone (RPL-3); history shows the quote.
      expect(readable.stdout).toBe(`Replied team #${seq} bob: count me in ↪ re ${quoted.messageId}\n`);
      expect(await carol.until((l) => l.includes("count me in"))).toBe(`message      team #${seq} bob: count me in ↪ re ${quoted.messageId}`);
      const [history, historyJson] = await Promise.all([
        run(["history", "--group", "team", "--page-size", "1"], { NARROWCAST_TOKEN: tokens.carol }),
        json(["history", "--group", "team", "--page-size", "1"], { NARROWCAST_TOKEN: tokens.carol }),
      ]);
      expect(history.stdout.split("\n")[0]).toBe(`team #${seq} bob: count me in ↪ re #${quoted.seq} alice: pizza at noon?`);
      expect(historyJson.messages[0].replyTo).toMatchObject({
        messageId: quoted.messageId,
        status: "QUOTE_STATUS_AVAILABLE",
        quoted: { messageId: quoted.messageId, elements: [{ text: { text: "pizza at noon?" } }] },
      });

      const at = ["--group", "team", "--message", secret.messageId];
      const [widening, outside, tooLong, privately] = await Promise.all([
        run(["reply", ...at, "everyone?"], asBob),
        run(["reply", ...at, "--to", "alice,carol", "you two?", "--json"], asBob),
        run(["reply", "--group", "team", "--message", "m".repeat(129), "x", "--json"], asBob),
        json(["reply", ...at, "--receiver", "alice", "ok"], asBob),
      ]);
      expect(widening.code).toBe(1);
      expect(widening.stderr).toMatch(/REPLY_WIDENS_AUDIENCE.*\(field reply_to_message_id\)/);
      expect(outside.code).toBe(1);
      expect(JSON.parse(outside.stderr)).toMatchObject({ error: { reason: "REPLY_WIDENS_AUDIENCE", field: "receiver_ids", ids: ["carol"], local: false } });
      expect(tooLong.code).toBe(1);
      expect(JSON.parse(tooLong.stderr)).toMatchObject({ error: { reason: "FIELD_INVALID", field: "reply_to_message_id", local: true } });
      expect(privately).toMatchObject({ senderId: "bob", receiverIds: ["alice"], replyTo: { messageId: secret.messageId } });
      expect(privately.replyTo.status).toBeUndefined();
    } finally {
      expect(await carol.interrupt()).toBe(0);
    }
  });

  it("send/reply --receipts, read --message, receipts [--unread]: counts on your own messages, read lines in your tail", async () => {
    const asAlice = { NARROWCAST_TOKEN: tokens.alice };
    const asBob = { NARROWCAST_TOKEN: tokens.bob };
    const asCarol = { NARROWCAST_TOKEN: tokens.carol };
    const alice = new Tail(tokens.alice, false);
    try {
      await alice.until((l) => l.startsWith("Listening"));
      const first = await json(["send", "--group", "team", "--receipts", "--text", "read by noon"], asAlice);
      expect(first).toMatchObject({ senderId: "alice", readReceiptsRequested: true });
      const plain = await run(["send", "--group", "team", "--receipts", "agenda"], asAlice);
      expect(plain.stderr).toBe("");
      const seq = plain.stdout.match(/^Sent team #(\d+) /)?.[1];
      // The send's response carries no counts: it shows that receipts were asked for.
      expect(plain.stdout).toBe(`Sent team #${seq} alice: agenda [receipts requested]\n`);
      const second = (await json(["history", "--group", "team", "--page-size", "1"], asAlice)).messages[0];
      expect(second).toMatchObject({ seq, readReceiptsRequested: true, readReceipts: { unreadCount: 3 } });

      // Readers: bob, carol and dave (the members when it was sent). --message repeats or takes a comma list.
      const bobRead = await run(["read", "--group", "team", "--message", first.messageId], asBob);
      expect(bobRead.stderr).toBe("");
      expect(bobRead.stdout).toBe("Acknowledged 1 message of team as read\n");
      expect(await alice.until((l) => l.startsWith("read") && l.includes("by bob"))).toBe(`read         team #${first.seq} by bob (now read 1/3)`);
      expect(await json(["read", "--group", "team", "--message", first.messageId, "--message", `${second.messageId},${first.messageId}`], asCarol)).toEqual({
        groupId: "team",
        messageIds: [first.messageId, second.messageId],
      });
      await alice.until((l) => l.includes(`#${second.seq} by carol`));
      expect(alice.lines.filter((l) => l.startsWith("read "))).toEqual([
        `read         team #${first.seq} by bob (now read 1/3)`,
        `read         team #${first.seq} by carol (now read 2/3)`,
        `read         team #${second.seq} by carol (now read 1/3)`,
      ]);

      const at = ["--group", "team", "--message", first.messageId];
      const [history, bobHistory, readers, unread, paged, notSender, both, hidden] = await Promise.all([
        run(["history", "--group", "team", "--page-size", "2"], asAlice),
        run(["history", "--group", "team", "--page-size", "2"], asBob),
        run(["receipts", ...at], asAlice),
        json(["receipts", ...at, "--unread"], asAlice),
        run(["receipts", ...at, "--page-size", "1"], asAlice),
        run(["receipts", ...at], asBob),
        run(["read", ...at, "--seq", "1"], asBob),
        run(["read", "--group", "team", "--message", "no-such-message"], asBob),
      ]);
      // Only the sender's own messages show counts: read N of the readers.
      expect(history.stdout.split("\n").slice(0, 2)).toEqual([`team #${first.seq} alice: read by noon [read 2/3]`, `team #${second.seq} alice: agenda [read 1/3]`]);
      expect(bobHistory.stdout.split("\n").slice(0, 2)).toEqual([
        `team #${first.seq} alice: read by noon [receipts requested]`,
        `team #${second.seq} alice: agenda [receipts requested]`,
      ]);
      expect(readers.stderr).toBe("");
      expect(readers.stdout).toMatch(/^read 2\/3\nbob \S+Z\ncarol \S+Z\n$/);
      expect(unread).toEqual({ receipts: [{ userId: "dave" }], nextPageToken: "", counts: { readCount: 2, unreadCount: 1 } });
      expect(paged.stdout).toMatch(/^read 2\/3\nbob \S+Z\n\(more: --page-token \S+, or --all\)\n$/);
      expect(notSender.code).toBe(1);
      expect(notSender.stderr).toMatch(/READ_RECEIPTS_SENDER_ONLY.*\(field message_id\)/);
      expect(both.code).toBe(2);
      expect(both.stderr).toMatch(/--seq.*--message/);
      expect(hidden.code).toBe(1);
      expect(hidden.stderr).toMatch(/MESSAGE_NOT_FOUND.*\(field message_ids\) \[no-such-message\]/);
      // After the history above, which it would change.
      const replied = await json(["reply", ...at, "--receipts", "noted"], asBob);
      expect(replied).toMatchObject({ senderId: "bob", readReceiptsRequested: true, replyTo: { messageId: first.messageId } });
    } finally {
      expect(await alice.interrupt()).toBe(0);
    }
  });

  it("list commands print one page and the way to the next; --all follows every token", async () => {
    const withApp = { NARROWCAST_APP: appId };
    // Independent commands run side by side: each spawn costs a Node.js start-up.
    const [first, everyone, readable, members, groups, history] = await Promise.all([
      json(["admin", "users", "--page-size", "3"], withApp),
      json(["admin", "users", "--page-size", "1", "--all"], withApp),
      run(["admin", "users", "--page-size", "3"], withApp),
      json(["members", "--group", "team", "--all", "--page-size", "2"], { NARROWCAST_TOKEN: tokens.alice }),
      json(["groups"], { NARROWCAST_TOKEN: tokens.bob }),
      json(["history", "--group", "team", "--page-size", "1", "--all"], { NARROWCAST_TOKEN: tokens.bob }),
    ]);
    expect(first.users.map((u: { userId: string }) => u.userId)).toEqual(["alice", "bob", "carol"]);
    expect(first.nextPageToken).not.toBe("");
    const rest = await json(["admin", "users", "--page-size", "3", "--page-token", first.nextPageToken], withApp);
    expect(rest).toEqual({ users: [{ userId: "dave" }], nextPageToken: "" });
    expect(everyone.users.map((u: { userId: string }) => u.userId)).toEqual(["alice", "bob", "carol", "dave"]);
    expect(everyone.nextPageToken).toBe("");
    expect(readable.stdout).toMatch(/^alice\nbob\ncarol\n\(more: --page-token \S+, or --all\)\n$/);

    expect(members.members.map((m: { userId: string; role: string }) => [m.userId, m.role])).toEqual([
      ["alice", "MEMBER_ROLE_OWNER"],
      ["bob", "MEMBER_ROLE_MEMBER"],
      ["carol", "MEMBER_ROLE_MEMBER"],
      ["dave", "MEMBER_ROLE_MEMBER"],
    ]);
    expect(groups.groups.map((g: { groupId: string }) => g.groupId)).toEqual(["team"]);

    // history --all prints the whole visible history ascending, whatever the page size.
    const seqs = history.messages.map((m: { seq: string }) => Number(m.seq));
    expect(seqs.length).toBeGreaterThan(2);
    expect(seqs).toEqual([...seqs].sort((a: number, b: number) => a - b));
  });

  it("admin: join, get-app, set-plan, rotate-secret, delete-user", async () => {
    const withApp = { NARROWCAST_APP: appId };
    // Two independent chains side by side (each spawn costs a Node.js start-up).
    const joining = (async () => {
      await json(["admin", "create-group", "--type", "meeting", "--id", "open"], withApp);
      const joined = await json(["join", "--group", "open"], { NARROWCAST_TOKEN: tokens.carol });
      expect(joined).toMatchObject({ member: { userId: "carol", role: "MEMBER_ROLE_MEMBER" } });
    })();
    const plans = (async () => {
      expect(await json(["admin", "set-plan", "--plan", "standard"], withApp)).toMatchObject({ appId, plan: "PLAN_STANDARD" });
      const [shown, refused] = await Promise.all([
        json(["admin", "get-app"], withApp),
        run(["send", "--group", "team", "--to", "bob", "x"], { NARROWCAST_TOKEN: tokens.alice }),
      ]);
      expect(shown).toMatchObject({ appId, plan: "PLAN_STANDARD" });
      expect(shown.secret ?? "").toBe("");
      // The plan applies at once: targeted messages need ULTIMATE (TGT-9).
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/FEATURE_NOT_IN_PLAN/);
      await json(["admin", "set-plan", "--plan", "ultimate"], withApp);
    })();
    await Promise.all([joining, plans]);

    // With a grace period, the tokens issued so far (used by the next test) keep working.
    const [rotated, deleted] = await Promise.all([
      json(["admin", "rotate-secret", "--grace", "60"], withApp),
      json(["admin", "delete-user", "dave"], withApp),
    ]);
    expect(rotated.secret).not.toBe("");
    expect(rotated.previousSecretExpireTime).toEqual(expect.any(String));
    expect(deleted).toEqual({ appId, userId: "dave" });
    const left = await json(["admin", "users", "--all"], withApp);
    expect(left.users.map((u: { userId: string }) => u.userId)).toEqual(["alice", "bob", "carol"]);
  });

  it("errors: typed, on stderr, exit code 1; usage problems exit 2", async () => {
    const receivers = Array.from({ length: 51 }, (_, i) => `u${i}`).join(",");
    const tooMany = await run(["send", "--group", "team", "--to", receivers, "--text", "x", "--json"], { NARROWCAST_TOKEN: tokens.alice });
    expect(tooMany.code).toBe(1);
    expect(tooMany.stdout).toBe("");
    expect(JSON.parse(tooMany.stderr)).toEqual({
      error: {
        code: "invalid_argument",
        reason: "RECEIVER_LIST_TOO_LONG",
        domain: "narrowcast",
        field: "receiver_ids",
        ids: [],
        message: expect.any(String),
        local: true,
      },
    });

    const notMember = await run(["send", "--group", "team", "--to", "mallory", "--text", "x"], { NARROWCAST_TOKEN: tokens.alice });
    expect(notMember.code).toBe(1);
    expect(notMember.stderr).toMatch(/RECEIVER_NOT_MEMBER.*\[mallory\]/);

    const noToken = await run(["history", "--group", "team"]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/NARROWCAST_TOKEN/);

    const badAdmin = await run(["admin", "create-app"], { NARROWCAST_ADMIN_KEY: "wrong" });
    expect(badAdmin.code).toBe(1);
    expect(badAdmin.stderr).toMatch(/ADMIN_KEY_INVALID/);
  });
});
