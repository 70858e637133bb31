// Read receipts through the SDK against a real server (rules RCP-1 to RCP-6, DRV-1): asking for
// them, counts for the sender only, acknowledging (idempotent, all or nothing), the messageRead
// event to the sender alone, listing readers with paging, quotes without receipts, and the errors
// only the server can know. Local rejections are in early-errors.test.ts, the CLI in cli.test.ts.
import type { Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatEvent, formatMessage, formatReadReceipt } from "../src/cli/format.js";
import {
  Code,
  NarrowcastError,
  QuoteStatus,
  ReadState,
  Reason,
  createMessage,
  createTargetedGroupMessage,
  createTextMessage,
  toEditMessageRequest,
} from "../src/index.js";
import type { Message, MessageReadEvent, MessageReceivedEvent, NarrowcastClient, ReadReceipt } from "../src/index.js";
import { Recorder, errorSummary, rejection, startFixture } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

/** A message's receipt counts as "read/unread", or "unset". */
const countsOf = (m: Pick<Message, "readReceipts">) => (m.readReceipts ? `${m.readReceipts.readCount}/${m.readReceipts.unreadCount}` : "unset");

/** The messageRead events a recorder holds, as [messageId, readerId, "read/unread"] rows. */
function reads(recorder: Recorder): [string, string, string][] {
  return recorder.events
    .filter((e): e is MessageReadEvent => e.type === "messageRead")
    .map((e) => [e.messageId, e.readerId, `${e.counts.readCount}/${e.counts.unreadCount}`]);
}

/** Sends a marker and waits until every recorder has it: events of one group arrive in order (EVT-8). */
async function settle(sender: NarrowcastClient, groupId: string, recorders: Recorder[], text = "marker"): Promise<void> {
  await sender.sendMessage(createTextMessage(text), { groupId });
  await Promise.all(recorders.map((r) => r.untilText(text)));
}

/** Every reader in one state, through the iterator. */
async function readersOf(client: NarrowcastClient, groupId: string, messageId: string, state: "read" | "unread", pageSize = 0): Promise<ReadReceipt[]> {
  const all: ReadReceipt[] = [];
  for await (const receipt of client.readReceipts(groupId, messageId, { state, pageSize })) {
    all.push(receipt);
  }
  return all;
}

describe("asking for read receipts (RCP-1)", () => {
  it("the send option, the builders and the web form ask for them; the send option wins over the draft", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const groupId = app.groupId;
    const sent = [
      await alice.sendMessage(createTextMessage("option"), { groupId, requestReadReceipts: true }),
      await alice.sendMessage(createMessage([{ text: "builder" }], { requestReadReceipts: true }), { groupId }),
      await alice.sendMessage(alice.createTextMessage({ to: groupId, payload: { text: "web" }, requestReadReceipts: true })),
      await alice.reply(groupId, (await alice.sendMessage(createTextMessage("q"), { groupId })).messageId, "reply", { requestReadReceipts: true }),
      await alice.sendMessage(createMessage([{ text: "overridden" }], { requestReadReceipts: true }), { groupId, requestReadReceipts: false }),
      await alice.sendMessage(createTextMessage("plain"), { groupId }),
    ];
    expect(sent.map((m) => m.readReceiptsRequested)).toEqual([true, true, true, true, false, false]);
    // The send's response is no read path: no counts there (RCP-4).
    expect(sent.map(countsOf)).toEqual(["unset", "unset", "unset", "unset", "unset", "unset"]);
    expect((await alice.listMessages(groupId)).items.map(countsOf)).toEqual(["0/1", "0/1", "0/1", "unset", "0/1", "unset", "unset"]);
  });

  it("online-only and system messages cannot ask: READ_RECEIPTS_NOT_ALLOWED, nothing stored; a member's send through the admin API can", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const before = (await alice.getConversation(app.groupId)).lastMessage;
    const refusals = [
      () => alice.sendMessage(createTextMessage("fleeting"), { groupId: app.groupId, onlineUserOnly: true, requestReadReceipts: true }),
      () => fx.admin.sendMessage(app.appId, createTextMessage("system"), { groupId: app.groupId, requestReadReceipts: true }),
    ];
    for (const call of refusals) {
      const err = await rejection(call);
      expect(errorSummary(err)).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.READ_RECEIPTS_NOT_ALLOWED, field: "request_read_receipts" });
      expect((err as NarrowcastError).local).toBe(false);
      expect((err as NarrowcastError).is(Reason.READ_RECEIPTS_NOT_ALLOWED)).toBe(true);
    }
    expect((await alice.getConversation(app.groupId)).lastMessage).toEqual(before);
    const asAlice = await fx.admin.sendMessage(app.appId, createTextMessage("from the backend"), {
      groupId: app.groupId,
      senderId: "alice",
      requestReadReceipts: true,
    });
    expect(asAlice).toMatchObject({ senderId: "alice", readReceiptsRequested: true });
    expect(countsOf(await alice.getMessage(app.groupId, asAlice.messageId))).toBe("0/1");
  });

  it("an edit cannot ask for them: a draft with requestReadReceipts is refused locally", () => {
    const err = (() => {
      try {
        toEditMessageRequest("g1", "m1", createMessage([{ text: "x" }], { requestReadReceipts: true }));
      } catch (e) {
        return e;
      }
      throw new Error("expected a rejection");
    })();
    expect(errorSummary(err)).toMatchObject({ code: Code.InvalidArgument, reason: Reason.FIELD_INVALID, field: "requestReadReceipts" });
    expect((err as NarrowcastError).local).toBe(true);
    expect(toEditMessageRequest("g1", "m1", createMessage([{ text: "x" }], { requestReadReceipts: false })).elements).toHaveLength(1);
  });
});

describe("acknowledging and who learns of it (RCP-3 to RCP-6)", () => {
  it("counts for the sender only; each acknowledgement once; messageRead to the sender's devices alone; unread counts untouched", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol", "dave"] });
    const [alice1, alice2, bob, carol, dave] = await Promise.all(["alice", "alice", "bob", "carol", "dave"].map((u) => app.client(u)));
    const recorders = { alice1: new Recorder(alice1), alice2: new Recorder(alice2), bob: new Recorder(bob), carol: new Recorder(carol) };
    await Promise.all([alice1, alice2, bob, carol].map((c) => c.connect()));
    const groupId = app.groupId;
    const sent = await alice1.sendMessage(createTextMessage("did you read this?"), { groupId, requestReadReceipts: true });
    const plain = await alice1.sendMessage(createTextMessage("no receipts here"), { groupId });
    await Promise.all(Object.values(recorders).map((r) => r.untilText("no receipts here")));
    const bobBefore = await bob.getConversation(groupId);

    // Readers: the members at send time but the sender (RCP-2). Only the sender sees counts (RCP-4).
    expect(countsOf(await alice1.getMessage(groupId, sent.messageId))).toBe("0/3");
    const asBob = await bob.getMessage(groupId, sent.messageId);
    expect([asBob.readReceiptsRequested, countsOf(asBob)]).toEqual([true, "unset"]);
    expect((await carol.listMessages(groupId)).items.map(countsOf)).toEqual(["unset", "unset"]);

    // Duplicates collapse; a message without receipts in the same call is no error (RCP-3).
    await bob.sendReadReceipts(groupId, [sent.messageId, plain.messageId, sent.messageId]);
    const first = (await recorders.alice1.until((e) => e.type === "messageRead")) as MessageReadEvent;
    expect(first).toMatchObject({ type: "messageRead", groupId, messageId: sent.messageId, seq: sent.seq, readerId: "bob", counts: { readCount: 1, unreadCount: 2 } });
    expect(first.cursor).not.toBe("");
    expect(first.time).toBeInstanceOf(Date);
    // Again: recorded once, no second event. The sender acknowledging her own message changes nothing.
    await bob.sendReadReceipts(groupId, [sent.messageId]);
    await alice1.sendReadReceipts(groupId, [sent.messageId]);
    await carol.sendReadReceipts(groupId, [sent.messageId]);
    await settle(dave, groupId, Object.values(recorders));

    for (const name of ["alice1", "alice2"] as const) {
      expect(reads(recorders[name]), name).toEqual([
        [sent.messageId, "bob", "1/2"],
        [sent.messageId, "carol", "2/1"],
      ]);
    }
    expect(reads(recorders.bob)).toEqual([]);
    expect(reads(recorders.carol)).toEqual([]);
    // Wherever reactions are filled, the sender's counts are too (RCP-4); nobody else's.
    expect(countsOf(await alice1.getMessage(groupId, sent.messageId))).toBe("2/1");
    expect(countsOf(await alice1.addReaction(groupId, sent.messageId, "👀"))).toBe("2/1");
    expect(countsOf(await bob.addReaction(groupId, sent.messageId, "👀"))).toBe("unset");
    expect(formatMessage(await alice1.getMessage(groupId, sent.messageId))).toBe(`${groupId} #${sent.seq} alice: did you read this? [read 2/3] {👀 ×2 (you)}`);
    expect(formatMessage(await bob.getMessage(groupId, sent.messageId))).toBe(`${groupId} #${sent.seq} alice: did you read this? [receipts requested] {👀 ×2 (you)}`);

    // Receipts move no unread count and no read position (RCP-6): only the marker counts.
    const bobAfter = await bob.getConversation(groupId);
    expect([bobAfter.unreadCount, bobAfter.readSeq]).toEqual([bobBefore.unreadCount + 1, bobBefore.readSeq]);

    expect((await readersOf(alice1, groupId, sent.messageId, "read")).map((r) => r.userId)).toEqual(["bob", "carol"]);
    expect(await readersOf(alice1, groupId, sent.messageId, "unread")).toEqual([{ userId: "dave", readTime: undefined }]);
    expect((await alice1.listReadReceipts(groupId, plain.messageId, { state: "unread" }))).toEqual({
      items: [],
      nextPageToken: "",
      counts: { readCount: 0, unreadCount: 0 },
    });
  });

  it("a saved cursor replays the messageRead it missed, to the sender", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const bob = await app.client("bob");
    const first = await app.client("alice");
    const recorder = new Recorder(first);
    await first.connect();
    const sent = await first.sendMessage(createTextMessage("ack please"), { groupId: app.groupId, requestReadReceipts: true });
    await recorder.untilText("ack please");
    const saved = first.cursor;
    await first.close();

    await bob.sendReadReceipts(app.groupId, [sent.messageId]);
    const second = await app.client("alice", { cursor: saved });
    const resumed = new Recorder(second);
    await second.connect();
    expect(await resumed.until((e) => e.type === "messageRead")).toMatchObject({
      messageId: sent.messageId,
      readerId: "bob",
      counts: { readCount: 1, unreadCount: 0 },
    });
  });

  it("a targeted message's readers are its receivers; an outsider's acknowledgement is MESSAGE_NOT_FOUND with the hidden IDs, and records nothing (DRV-1)", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => app.client(u)));
    const groupId = app.groupId;
    const secret = await alice.sendMessage(createTargetedGroupMessage(createTextMessage("for bob"), ["bob"]), { groupId, requestReadReceipts: true });
    const open = await alice.sendMessage(createTextMessage("for all"), { groupId, requestReadReceipts: true });
    expect(countsOf(await alice.getMessage(groupId, secret.messageId))).toBe("0/1");

    const hidden = await rejection(() => carol.sendReadReceipts(groupId, [open.messageId, secret.messageId]));
    const missing = await rejection(() => carol.sendReadReceipts(groupId, [open.messageId, "no-such-message"]));
    expect(errorSummary(hidden)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "message_ids", ids: [secret.messageId] });
    expect(errorSummary(missing)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "message_ids", ids: ["no-such-message"] });
    expect({ ...errorSummary(hidden), ids: [] }).toEqual({ ...errorSummary(missing), ids: [] });
    // All or nothing: the visible message in the refused request was not acknowledged.
    expect(countsOf(await alice.getMessage(groupId, open.messageId))).toBe("0/2");

    const hiddenList = await rejection(() => carol.listReadReceipts(groupId, secret.messageId, { state: "read" }));
    const missingList = await rejection(() => carol.listReadReceipts(groupId, "no-such-message", { state: "read" }));
    expect(errorSummary(hiddenList)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "message_id" });
    expect(errorSummary(hiddenList)).toEqual(errorSummary(missingList));

    await bob.sendReadReceipts(groupId, [secret.messageId, open.messageId]);
    expect(countsOf(await alice.getMessage(groupId, secret.messageId))).toBe("1/0");
    expect(countsOf(await alice.getMessage(groupId, open.messageId))).toBe("1/1");
  });

  it("only the sender may list: another member gets READ_RECEIPTS_SENDER_ONLY; NOT_A_MEMBER and GROUP_NOT_FOUND as usual", async () => {
    const app = await fx.app({ users: ["alice", "bob", "dave"] });
    const [alice, bob, dave] = await Promise.all(["alice", "bob", "dave"].map((u) => app.client(u)));
    const sent = await alice.sendMessage(createTextMessage("mine"), { groupId: app.groupId, requestReadReceipts: true });
    const err = await rejection(() => bob.listReadReceipts(app.groupId, sent.messageId, { state: ReadState.READ }));
    expect(err).toBeInstanceOf(NarrowcastError);
    expect(errorSummary(err)).toMatchObject({ code: Code.PermissionDenied, reason: Reason.READ_RECEIPTS_SENDER_ONLY, field: "message_id" });
    expect((err as NarrowcastError).local).toBe(false);
    // The iterator fails the same way, at its first page.
    expect(errorSummary(await rejection(() => readersOf(bob, app.groupId, sent.messageId, "unread")))).toMatchObject({
      reason: Reason.READ_RECEIPTS_SENDER_ONLY,
    });

    await fx.admin.removeMembers(app.appId, app.groupId, ["dave"]);
    expect(await rejection(() => dave.sendReadReceipts(app.groupId, [sent.messageId]))).toMatchObject({
      code: Code.PermissionDenied,
      reason: Reason.NOT_A_MEMBER,
    });
    expect(await rejection(() => alice.listReadReceipts("no-such-group", sent.messageId, { state: "read" }))).toMatchObject({
      code: Code.NotFound,
      reason: Reason.GROUP_NOT_FOUND,
    });
  });
});

describe("listing readers (RCP-4, PAG-1)", () => {
  const users = ["alice", "bob", "carol", "dave", "erin", "frank"];
  let alice: NarrowcastClient;
  let groupId: string;
  let messageId: string;
  let listCalls = 0;
  // Counts ListReadReceipts calls that reach the transport.
  const countLists: Interceptor = (next) => async (req) => {
    if (req.method.name === "ListReadReceipts") {
      listCalls++;
    }
    return next(req);
  };

  beforeAll(async () => {
    const app = await fx.app({ users });
    const clients = Object.fromEntries(await Promise.all(users.map(async (u) => [u, await app.client(u, { interceptors: [countLists] })] as const)));
    alice = clients.alice;
    groupId = app.groupId;
    messageId = (await alice.sendMessage(createTextMessage("roll call"), { groupId, requestReadReceipts: true })).messageId;
    // Acknowledged in an order other than by user ID: the listing is by user ID.
    for (const reader of ["erin", "bob", "dave"]) {
      await clients[reader].sendReadReceipts(groupId, [messageId]);
    }
  });

  it("listReadReceipts pages by user ID with the counts on every page; read ones have a readTime, unread ones none", async () => {
    const seen: ReadReceipt[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await alice.listReadReceipts(groupId, messageId, { state: "read", pageSize: 2, pageToken });
      expect(page.items.length).toBeLessThanOrEqual(2);
      expect(page.counts).toEqual({ readCount: 3, unreadCount: 2 });
      seen.push(...page.items);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(seen.map((r) => r.userId)).toEqual(["bob", "dave", "erin"]);
    for (const r of seen) {
      expect(r.readTime, r.userId).toBeInstanceOf(Date);
    }
    expect(await alice.listReadReceipts(groupId, messageId, { state: ReadState.UNREAD })).toEqual({
      items: [
        { userId: "carol", readTime: undefined },
        { userId: "frank", readTime: undefined },
      ],
      nextPageToken: "",
      counts: { readCount: 3, unreadCount: 2 },
    });
  });

  it("readReceipts() walks every page as the loop goes", async () => {
    const before = listCalls;
    expect((await readersOf(alice, groupId, messageId, "read", 1)).map((r) => r.userId)).toEqual(["bob", "dave", "erin"]);
    expect(listCalls - before).toBeGreaterThanOrEqual(3);
  });

  it("a page token is bound to its state: reused with the other state it is PAGE_TOKEN_INVALID (PAG-3)", async () => {
    const { nextPageToken } = await alice.listReadReceipts(groupId, messageId, { state: "read", pageSize: 1 });
    expect(nextPageToken).not.toBe("");
    const err = await rejection(() => alice.listReadReceipts(groupId, messageId, { state: "unread", pageToken: nextPageToken }));
    expect(errorSummary(err)).toMatchObject({ code: Code.InvalidArgument, reason: Reason.PAGE_TOKEN_INVALID, field: "page_token" });
  });
});

describe("quotes carry no read receipts (RPL-3, RCP-4)", () => {
  it("the sender of a quoted message with receipts sees them on it, not in the quote; resolveQuote matches the server's quote", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => app.client(u)));
    const recorder = new Recorder(alice);
    await alice.connect();
    const quoted = await alice.sendMessage(createTextMessage("read me"), { groupId: app.groupId, requestReadReceipts: true });
    await bob.sendReadReceipts(app.groupId, [quoted.messageId]);
    await bob.reply(app.groupId, quoted.messageId, "done");
    const event = ((await recorder.untilText("done")) as MessageReceivedEvent).message;

    // Reading the quoted message directly, its sender gets the counts...
    expect(countsOf(await alice.getMessage(app.groupId, quoted.messageId))).toBe("1/0");
    // ...but the server's quote leaves them out (keeping read_receipts_requested), and so must resolveQuote.
    const shown = (await alice.getMessage(app.groupId, event.messageId)).replyTo;
    expect(shown?.status).toBe(QuoteStatus.AVAILABLE);
    expect(shown?.quoted).toMatchObject({ messageId: quoted.messageId, readReceiptsRequested: true });
    expect(shown?.quoted?.readReceipts).toBeUndefined();
    expect(await alice.resolveQuote(event)).toEqual(shown);
  });
});

describe("the CLI's lines for receipts", () => {
  it("a messageRead event and a listed reader are one line each; counts show as read N/total", () => {
    const time = new Date("2025-01-02T03:04:05.000Z");
    const event: MessageReadEvent = {
      type: "messageRead",
      groupId: "g1",
      messageId: "m6",
      seq: 6,
      readerId: "carol",
      counts: { readCount: 2, unreadCount: 3 },
      cursor: "c",
      time,
      event: {} as never,
    };
    expect(formatEvent(event)).toBe("read         g1 #6 by carol (now read 2/5)");
    expect(formatReadReceipt({ userId: "carol", readTime: time })).toBe("carol 2025-01-02T03:04:05.000Z");
    expect(formatReadReceipt({ userId: "dave", readTime: undefined })).toBe("dave");
  });
});
