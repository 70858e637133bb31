// Restarting the server on the same data directory keeps everything: the generated admin key,
// the apps and their secrets (so tokens issued before still work), history, unread counts, last
// messages, mention flags, recalls, idempotency records and the event log (an old cursor replays
// the same events). Seqs and the log then continue where they stopped. All through the wire.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupType, type Conversation, type Event, type Group, type Message } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { AppFixture, EventStream, TestServer, UserClient, textOf } from "./support.js";

const USERS = ["alice", "bob", "carol"] as const;
type UserId = (typeof USERS)[number];

/** What one user sees before the restart, to compare with what they see after it. */
interface View {
  groups: Group[];
  history: Message[];
  conversation: Conversation;
}

/** A subscription's replay from a cursor: the events before `ready`, and the `ready` cursor. */
async function replay(user: UserClient, cursor: string): Promise<{ events: Event[]; ready: string }> {
  const stream = EventStream.open(user.events, { cursor }, user.id);
  try {
    const ready = await stream.ready();
    return { events: stream.replayed, ready };
  } finally {
    stream.close();
  }
}

async function viewOf(user: UserClient, groupId: string): Promise<View> {
  return {
    groups: (await user.groups.listGroups({})).groups,
    history: await user.history(groupId),
    conversation: await user.conversation(groupId),
  };
}

describe("restart on the same data directory", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "narrowcast-persistence-"));
  let before: TestServer;
  let after: TestServer;
  let fixture: AppFixture;
  let groupId: string;
  /** The position every user's replay starts from: taken before any message was sent. */
  let startCursor: string;
  let firstKey: string;
  let firstKeyFile: string | undefined;
  const views = new Map<UserId, View>();
  const replays = new Map<UserId, { events: Event[]; ready: string }>();
  const sent: Record<string, Message> = {};
  /** The same users, with the tokens issued before the restart, talking to the restarted server. */
  const users = new Map<UserId, UserClient>();

  beforeAll(async () => {
    before = await TestServer.start({ dataDir });
    firstKey = before.adminKey;
    firstKeyFile = before.running.adminKeyFile;
    fixture = await AppFixture.create(before, "connect", { plan: Plan.ULTIMATE, users: USERS });
    groupId = await fixture.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const [alice, bob, carol] = USERS.map((id) => fixture.user(id));
    startCursor = (await replay(carol, "")).ready;

    sent.one = await alice.send(groupId, "one");
    sent.secret = await alice.send(groupId, "for bob", { receiverIds: ["bob"], countAsUnreadForReceivers: true });
    sent.mention = await alice.send(groupId, "hey carol", { mentionedUserIds: ["carol"] });
    sent.two = await bob.send(groupId, "two", { clientMessageId: "bob-two" });
    sent.oops = await alice.send(groupId, "oops");
    await alice.messages.recallMessage({ groupId, messageId: sent.oops.messageId });
    await alice.send(groupId, "live only", { onlineOnly: true });
    await carol.conversations.markConversationRead({ groupId, readSeq: 1n });

    for (const id of USERS) {
      views.set(id, await viewOf(fixture.user(id), groupId));
      replays.set(id, await replay(fixture.user(id), startCursor));
    }
    await before.close();

    after = await TestServer.start({ dataDir });
    for (const id of USERS) {
      const { token } = fixture.user(id);
      users.set(id, new UserClient(id, token, after.transport("connect", { token })));
    }
  });

  afterAll(async () => {
    await before?.close();
    await after?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("the state before the restart is what the test expects (guards the comparisons below)", () => {
    expect(views.get("carol")?.history.map(textOf)).toEqual(["one", "hey carol", "two", ""]);
    expect(views.get("bob")?.history.map(textOf)).toEqual(["one", "for bob", "hey carol", "two", ""]);
    // A recall does not change unread (rule UNR-7): carol still counts seqs 3, 4 and 5.
    expect(views.get("carol")?.conversation).toMatchObject({ unreadCount: 3, readSeq: 1n, mentionedMe: true });
    expect(views.get("bob")?.conversation).toMatchObject({ unreadCount: 1, readSeq: 4n });
    const kinds = (id: UserId) => replays.get(id)?.events.map((e) => e.payload.case);
    const received = (n: number) => Array<string>(n).fill("messageReceived");
    expect(kinds("carol")).toEqual([...received(4), "messageRecalled", "conversationUpdated"]);
    expect(kinds("bob")).toEqual([...received(5), "messageRecalled"]);
  });

  it("keeps the generated admin key, read back from the data directory", async () => {
    expect(firstKeyFile).toBe(join(dataDir, "admin-key"));
    expect(after.running.adminKeyFile).toBe(firstKeyFile);
    expect(after.adminKey).toBe(firstKey);
    expect(readFileSync(firstKeyFile!, "utf8").trim()).toBe(firstKey);
    const { token } = await after.admin("connect").issueUserToken({ appId: fixture.appId, userId: "alice" });
    expect(token).not.toBe("");
  });

  it("accepts user tokens issued before the restart", async () => {
    const { groups } = await users.get("alice")!.groups.listGroups({});
    expect(groups.map((g) => g.groupId)).toEqual([groupId]);
  });

  it("keeps every viewer's history, unread count, last message, mention flags and recalls", async () => {
    for (const id of USERS) {
      expect(await viewOf(users.get(id)!, groupId), id).toEqual(views.get(id));
    }
    const { message } = await users.get("bob")!.messages.getMessage({ groupId, messageId: sent.oops.messageId });
    expect(message?.recall).toBeDefined();
    expect(message?.elements).toEqual([]);
  });

  it("replays the same events from a cursor taken before the restart, then ready at the same cursor", async () => {
    for (const id of USERS) {
      expect(await replay(users.get(id)!, startCursor), id).toEqual(replays.get(id));
    }
  });

  it("keeps idempotency records: a retry after the restart returns the original message", async () => {
    const retry = await users.get("bob")!.send(groupId, "two (retry)", { clientMessageId: "bob-two" });
    expect(retry).toEqual(sent.two);
    expect((await users.get("carol")!.history(groupId)).map((m) => m.messageId)).toEqual(
      views.get("carol")!.history.map((m) => m.messageId),
    );
  });

  it("continues seqs, counters and the event log where they stopped", async () => {
    const carol = users.get("carol")!;
    const lastReady = replays.get("carol")!.ready;
    const next = await users.get("alice")!.send(groupId, "after the restart");
    expect(next.seq).toBe(sent.oops.seq + 1n);
    expect((await carol.conversation(groupId)).unreadCount).toBe(views.get("carol")!.conversation.unreadCount + 1);
    expect((await carol.conversation(groupId)).lastMessage?.messageId).toBe(next.messageId);
    // Resuming from the last cursor handed out before the restart delivers exactly the new message.
    const { events, ready } = await replay(carol, lastReady);
    expect(events.map((e) => (e.payload.case === "messageReceived" ? e.payload.value.message?.messageId : e.payload.case))).toEqual([
      next.messageId,
    ]);
    expect(ready).toBe(events[0].cursor);
    expect(ready).not.toBe(lastReady);
  });
});
