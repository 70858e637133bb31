// Rules the SDK can check fail before any network call, with the very error the server gives
// for the same request (checked here by sending that request raw): code, ErrorInfo reason,
// domain, field and IDs, and the BadRequest field violation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Interceptor } from "@connectrpc/connect";
import {
  AT_ALL,
  Code,
  NarrowcastError,
  ReadState,
  Reason,
  checkSendReadReceiptsRequest,
  createMessage,
  createTargetedGroupMessage,
  createTextAtMessage,
  createTextMessage,
  toSendMessageRequest,
} from "../src/index.js";
import type { MessageDraft, NarrowcastClient, ReadStateInit, SendOptions } from "../src/index.js";
import { errorSummary, rejection, startFixture } from "./helpers.js";
import type { Fixture, TestApp } from "./helpers.js";

let fx: Fixture;
let app: TestApp;
let alice: NarrowcastClient;
let sends = 0;
let reactionCalls = 0;
let receiptCalls = 0;

// Counts SendMessage calls, and calls of the reaction and receipt RPCs, that reach the transport.
const countSends: Interceptor = (next) => async (req) => {
  if (req.method.name === "SendMessage") {
    sends++;
  }
  if (["AddReaction", "RemoveReaction", "ListReactions"].includes(req.method.name)) {
    reactionCalls++;
  }
  if (["SendReadReceipts", "ListReadReceipts"].includes(req.method.name)) {
    receiptCalls++;
  }
  return next(req);
};

beforeAll(async () => {
  fx = await startFixture();
  app = await fx.app({ users: ["alice", "bob", "carol"] });
  alice = await app.client("alice", { interceptors: [countSends] });
});
afterAll(async () => {
  await fx?.close();
});

const ids = (n: number, prefix = "u") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);


interface Case {
  name: string;
  draft: () => MessageDraft;
  options?: SendOptions;
  expected: { reason: Reason; field: string; ids?: string[] };
}

// Where the spec fixes no field (TGT-11), the SDK uses the reference server's choice.

const cases: Case[] = [
  {
    name: "more than 50 receivers (TGT-1)",
    draft: () => createTargetedGroupMessage(createTextMessage("x"), ids(51)),
    expected: { reason: Reason.RECEIVER_LIST_TOO_LONG, field: "receiver_ids" },
  },
  {
    name: "duplicate receivers (TGT-3)",
    draft: () => createTargetedGroupMessage(createTextMessage("x"), ["bob", "carol", "bob"]),
    expected: { reason: Reason.DUPLICATE_RECEIVER, field: "receiver_ids", ids: ["bob"] },
  },
  {
    name: "receivers with a user mention (TGT-11)",
    draft: () => createTargetedGroupMessage(createTextAtMessage("x", ["carol"]), ["bob"]),
    expected: { reason: Reason.TARGETED_WITH_MENTION, field: "mentioned_user_ids" },
  },
  {
    name: "receivers with @all (TGT-11)",
    draft: () => createTextAtMessage({ to: "", payload: { text: "x", atUserList: [AT_ALL] }, receiverList: ["bob"] }),
    expected: { reason: Reason.TARGETED_WITH_MENTION, field: "mention_all" },
  },
  {
    name: "single receiver with a mention (TGT-11)",
    draft: () => createTextMessage("x"),
    options: { receiver: "bob", mentions: ["carol"] },
    expected: { reason: Reason.TARGETED_WITH_MENTION, field: "mentioned_user_ids" },
  },
  {
    name: "no elements (MSG-3)",
    draft: () => createMessage([]),
    expected: { reason: Reason.EMPTY_MESSAGE, field: "elements" },
  },
  {
    name: "empty text (MSG-3)",
    draft: () => createMessage([{ text: "ok" }, { text: "" }]),
    expected: { reason: Reason.INVALID_ELEMENT, field: "elements[1]" },
  },
  {
    name: "larger than 12 KB (MSG-4)",
    draft: () => createTextMessage("x".repeat(12_300)),
    expected: { reason: Reason.MESSAGE_TOO_LARGE, field: "elements" },
  },
  {
    name: "client message ID longer than 128 characters (MSG-10)",
    draft: () => createTextMessage("x"),
    options: { clientMessageId: "k".repeat(129) },
    expected: { reason: Reason.FIELD_INVALID, field: "client_message_id" },
  },
  {
    name: "reply-to message ID longer than 128 characters (RPL-1)",
    draft: () => createTextMessage("x"),
    options: { replyTo: "m".repeat(129) },
    expected: { reason: Reason.FIELD_INVALID, field: "reply_to_message_id" },
  },
  {
    name: "reply-to message ID longer than 128 characters, from a builder (RPL-1)",
    draft: () => createMessage([{ text: "x" }], { replyTo: "m".repeat(129) }),
    expected: { reason: Reason.FIELD_INVALID, field: "reply_to_message_id" },
  },
  {
    name: "first failing check wins: client message ID before reply-to message ID",
    draft: () => createTextMessage("x"),
    options: { clientMessageId: "k".repeat(129), replyTo: "m".repeat(129) },
    expected: { reason: Reason.FIELD_INVALID, field: "client_message_id" },
  },
  {
    name: "first failing check wins: reply-to message ID before an empty message and 51 receivers",
    draft: () => createTargetedGroupMessage(createMessage([]), ids(51)),
    options: { replyTo: "m".repeat(129) },
    expected: { reason: Reason.FIELD_INVALID, field: "reply_to_message_id" },
  },
  {
    name: "more than 50 mentions (MSG-6)",
    draft: () => createTextAtMessage("x", ids(51)),
    expected: { reason: Reason.MENTION_LIST_TOO_LONG, field: "mentioned_user_ids" },
  },
  {
    name: "first failing check wins: empty message before 51 receivers",
    draft: () => createTargetedGroupMessage(createMessage([]), ids(51)),
    expected: { reason: Reason.EMPTY_MESSAGE, field: "elements" },
  },
  {
    name: "first failing check wins: mention before too many and duplicate receivers",
    draft: () => createTargetedGroupMessage(createTextAtMessage("x", ["carol"]), [...ids(51), "u0"]),
    expected: { reason: Reason.TARGETED_WITH_MENTION, field: "mentioned_user_ids" },
  },
];

/**
 * The SDK rejects the call locally with FIELD_INVALID on `field`, sending nothing (`sent` counts
 * the calls that reached the server), and the server, sent the same request raw, answers the same.
 */
async function expectLocalFieldInvalid(field: string, sent: () => number, call: (raw: boolean) => Promise<unknown>): Promise<void> {
  const before = sent();
  const local = await rejection(() => call(false));
  expect(sent()).toBe(before);
  expect((local as NarrowcastError).local).toBe(true);
  const expected = {
    code: Code.InvalidArgument,
    reason: Reason.FIELD_INVALID,
    domain: "narrowcast",
    field,
    ids: [],
    violations: [{ field, reason: Reason.FIELD_INVALID }],
  };
  expect(errorSummary(local)).toEqual(expected);
  const server = await rejection(() => call(true));
  expect((server as NarrowcastError).local).toBe(false);
  expect(errorSummary(server)).toEqual(expected);
}

describe("early rejections", () => {
  for (const c of cases) {
    it(`${c.name}: rejected locally, nothing sent, same error as the server`, async () => {
      const options = { groupId: app.groupId, ...c.options };
      const before = sends;
      const local = await rejection(() => alice.sendMessage(c.draft(), options));
      expect(sends).toBe(before);
      expect((local as NarrowcastError).local).toBe(true);
      const expected = {
        code: Code.InvalidArgument,
        domain: "narrowcast",
        ids: [],
        ...c.expected,
        violations: [{ field: c.expected.field, reason: c.expected.reason }],
      };
      expect(errorSummary(local)).toEqual(expected);
      expect((local as NarrowcastError).metadata.field).toBe(c.expected.field);
      const server = await rejection(() => alice.services.messages.sendMessage(toSendMessageRequest(c.draft(), options)));
      expect((server as NarrowcastError).local).toBe(false);
      // Same code, reason, domain, field, IDs and violations as the server. One exception: for
      // an empty text the spec says field `elements[i]` (MSG-3) and the SDK follows it; the
      // reference server says `elements[i].text`.
      const { field: _field, violations: _violations, ...rest } = expected;
      expect(errorSummary(server)).toMatchObject(c.expected.reason === Reason.INVALID_ELEMENT ? rest : expected);
    });
  }

  it("a missing or malformed group ID is FIELD_INVALID group_id, as the server says", async () => {
    for (const groupId of ["", "bad group!"]) {
      const before = sends;
      const local = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId }));
      expect(sends).toBe(before);
      const server = await rejection(() => alice.services.messages.sendMessage(toSendMessageRequest(createTextMessage("x"), { groupId })));
      expect(errorSummary(local)).toEqual(errorSummary(server));
      expect(errorSummary(local)).toMatchObject({ reason: Reason.FIELD_INVALID, field: "group_id" });
    }
  });

  it("list anchors: before_seq with after_seq is FIELD_INVALID after_seq, locally, as the server says", async () => {
    const local = await rejection(() => alice.listMessages(app.groupId, { beforeSeq: 5, afterSeq: 1 }));
    expect((local as NarrowcastError).local).toBe(true);
    const server = await rejection(() =>
      alice.services.messages.listMessages({ groupId: app.groupId, beforeSeq: 5n, afterSeq: 1n }),
    );
    expect(errorSummary(local)).toEqual(errorSummary(server));
    expect(errorSummary(local)).toMatchObject({ code: Code.InvalidArgument, reason: Reason.FIELD_INVALID, field: "after_seq" });
  });

  it("a reply-to message ID of 128 characters passes the local checks and reaches the server (RPL-1)", async () => {
    const before = sends;
    const err = await rejection(() => alice.reply(app.groupId, "m".repeat(128), "x", { retry: false }));
    expect(sends).toBe(before + 1);
    expect(errorSummary(err)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "reply_to_message_id" });
    expect((err as NarrowcastError).local).toBe(false);
  });

  it("exactly 50 distinct receivers pass the local checks and reach the server", async () => {
    const before = sends;
    const err = await rejection(() =>
      alice.sendMessage(createTargetedGroupMessage(createTextMessage("x"), ids(50)), { groupId: app.groupId, retry: false }),
    );
    expect(sends).toBe(before + 1);
    // None of them is a member: the server names all of them (TGT-5).
    expect(errorSummary(err)).toMatchObject({
      code: Code.FailedPrecondition,
      reason: Reason.RECEIVER_NOT_MEMBER,
      domain: "narrowcast",
      ids: ids(50),
    });
    expect((err as NarrowcastError).is(Reason.RECEIVER_NOT_MEMBER)).toBe(true);
    expect((err as NarrowcastError).is(Reason.RECEIVER_NOT_MEMBER, "example.com")).toBe(false);
  });
});

describe("errors only the server can know arrive as NarrowcastError too", () => {
  it("sender in the receiver list (TGT-3)", async () => {
    const err = await rejection(() =>
      alice.sendMessage(createTargetedGroupMessage(createTextMessage("x"), ["bob", "alice"]), { groupId: app.groupId }),
    );
    expect(err).toMatchObject({ code: Code.InvalidArgument, reason: Reason.SENDER_IN_RECEIVER_LIST, ids: ["alice"], local: false });
  });

  it("receiver who is not a member (TGT-5)", async () => {
    const err = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId, receiver: "mallory" }));
    expect(err).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.RECEIVER_NOT_MEMBER, ids: ["mallory"] });
  });

  it("an app on the standard plan (TGT-9)", async () => {
    const standard = await fx.app({ users: ["alice", "bob"], plan: "standard" });
    const client = await standard.client("alice");
    const err = await rejection(() => client.sendMessage(createTextMessage("x"), { groupId: standard.groupId, receiver: "bob" }));
    expect(err).toMatchObject({ code: Code.PermissionDenied, reason: Reason.FEATURE_NOT_IN_PLAN });
  });

  it("a community group (TGT-10)", async () => {
    const community = await fx.app({ users: ["alice", "bob"], groupType: "community" });
    const client = await community.client("alice");
    const err = await rejection(() => client.sendMessage(createTextMessage("x"), { groupId: community.groupId, receiver: "bob" }));
    expect(err).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.GROUP_TYPE_UNSUPPORTED });
  });

  it("a bad token (AUTH-2)", async () => {
    const { createClient } = await import("../src/index.js");
    const client = createClient({ baseUrl: fx.server.url, token: "not-a-jwt" });
    try {
      const err = await rejection(() => client.listConversations());
      expect(err).toBeInstanceOf(NarrowcastError);
      expect(err).toMatchObject({ code: Code.Unauthenticated, reason: Reason.TOKEN_INVALID });
    } finally {
      await client.close();
    }
  });
});

describe("early rejections of reactions (RCT-2, section 9.5 check 1)", () => {
  type Rpc = "addReaction" | "removeReaction" | "listReactions";
  interface ReactionCase {
    name: string;
    rpc: Rpc;
    groupId?: string;
    messageId?: string;
    reaction: string;
    field: string;
  }
  const cases: ReactionCase[] = [
    { name: "an empty reaction", rpc: "addReaction", reaction: "", field: "reaction" },
    { name: "33 code points", rpc: "addReaction", reaction: "👍".repeat(33), field: "reaction" },
    { name: "a control character", rpc: "addReaction", reaction: "ok\u0007", field: "reaction" },
    { name: "a C1 control character", rpc: "removeReaction", reaction: "\u0085ok", field: "reaction" },
    { name: "a newline", rpc: "removeReaction", reaction: "👍\n", field: "reaction" },
    { name: "only white space", rpc: "addReaction", reaction: " \u3000 ", field: "reaction" },
    { name: "only white space, removing", rpc: "removeReaction", reaction: "\u00a0", field: "reaction" },
    { name: "an empty reaction, removing", rpc: "removeReaction", reaction: "", field: "reaction" },
    { name: "a filter of 33 code points", rpc: "listReactions", reaction: "x".repeat(33), field: "reaction" },
    { name: "a filter of white space", rpc: "listReactions", reaction: "  ", field: "reaction" },
    { name: "a missing message ID", rpc: "addReaction", messageId: "", reaction: "👍", field: "message_id" },
    { name: "a missing message ID, listing", rpc: "listReactions", messageId: "", reaction: "", field: "message_id" },
    { name: "a malformed group ID", rpc: "removeReaction", groupId: "bad group!", reaction: "👍", field: "group_id" },
    { name: "first check wins: group ID before message ID and reaction", rpc: "addReaction", groupId: "", messageId: "", reaction: "", field: "group_id" },
    { name: "first check wins: message ID before reaction", rpc: "listReactions", messageId: "", reaction: "\t", field: "message_id" },
  ];

  let messageId: string;
  beforeAll(async () => {
    messageId = (await alice.sendMessage(createTextMessage("react to me"), { groupId: app.groupId })).messageId;
  });

  function call(rpc: Rpc, groupId: string, id: string, reaction: string, raw: boolean): Promise<unknown> {
    if (rpc === "listReactions") {
      return raw
        ? alice.services.messages.listReactions({ groupId, messageId: id, reaction })
        : alice.listReactions(groupId, id, { reaction });
    }
    return raw ? alice.services.messages[rpc]({ groupId, messageId: id, reaction }) : alice[rpc](groupId, id, reaction);
  }

  for (const c of cases) {
    it(`${c.rpc}, ${c.name}: rejected locally, nothing sent, same error as the server`, async () => {
      const args = [c.groupId ?? app.groupId, c.messageId ?? messageId, c.reaction] as const;
      await expectLocalFieldInvalid(c.field, () => reactionCalls, (raw) => call(c.rpc, ...args, raw));
    });
  }

  it("reactions() rejects a bad filter at the call, before any page is fetched", () => {
    const before = reactionCalls;
    expect(() => alice.reactions(app.groupId, messageId, { reaction: "\u0000" })).toThrow(NarrowcastError);
    expect(reactionCalls).toBe(before);
  });

  it("reactions the server accepts pass the local checks: 32 code points in 64 UTF-16 units, modifiers, inner spaces", async () => {
    for (const reaction of ["👍".repeat(32), "👍🏽", "👨‍👩‍👧", " :ok: ", "x"]) {
      const before = reactionCalls;
      const message = await alice.addReaction(app.groupId, messageId, reaction);
      expect(reactionCalls, reaction).toBe(before + 1);
      expect(message.reactions.find((r) => r.reaction === reaction), reaction).toEqual({ reaction, count: 1, callerReacted: true });
      expect((await alice.listReactions(app.groupId, messageId, { reaction })).items.map((r) => r.userId), reaction).toEqual(["alice"]);
    }
  });
});

describe("early rejections of read receipts (RCP-3, RCP-4, their order of checks)", () => {
  interface ReceiptCase {
    name: string;
    rpc: "sendReadReceipts" | "listReadReceipts";
    groupId?: string;
    /** sendReadReceipts: the IDs; listReadReceipts: its one message ID (first entry; default a real message). */
    messageIds?: string[];
    state?: ReadStateInit;
    field: string;
  }
  const cases: ReceiptCase[] = [
    { name: "no message IDs", rpc: "sendReadReceipts", messageIds: [], field: "message_ids" },
    { name: "101 distinct message IDs", rpc: "sendReadReceipts", messageIds: ids(101, "m"), field: "message_ids" },
    { name: "a malformed group ID", rpc: "sendReadReceipts", groupId: "bad group!", field: "group_id" },
    { name: "first check wins: group ID before message IDs", rpc: "sendReadReceipts", groupId: "", messageIds: [], field: "group_id" },
    { name: "a missing message ID", rpc: "listReadReceipts", messageIds: [""], state: "read", field: "message_id" },
    { name: "no state", rpc: "listReadReceipts", state: undefined, field: "state" },
    { name: "state UNSPECIFIED", rpc: "listReadReceipts", state: ReadState.UNSPECIFIED, field: "state" },
    { name: "first check wins: message ID before state", rpc: "listReadReceipts", messageIds: [""], state: undefined, field: "message_id" },
    { name: "first check wins: group ID before message ID", rpc: "listReadReceipts", groupId: "", messageIds: [""], state: "unread", field: "group_id" },
  ];

  let messageId: string;
  beforeAll(async () => {
    messageId = (await alice.sendMessage(createTextMessage("read me"), { groupId: app.groupId, requestReadReceipts: true })).messageId;
  });

  function call(c: ReceiptCase, raw: boolean): Promise<unknown> {
    const groupId = c.groupId ?? app.groupId;
    const messageIds = c.messageIds ?? [messageId];
    if (c.rpc === "sendReadReceipts") {
      return raw ? alice.services.messages.sendReadReceipts({ groupId, messageIds }) : alice.sendReadReceipts(groupId, messageIds);
    }
    const state = c.state === undefined ? ReadState.UNSPECIFIED : c.state === "read" ? ReadState.READ : c.state === "unread" ? ReadState.UNREAD : c.state;
    return raw
      ? alice.services.messages.listReadReceipts({ groupId, messageId: messageIds[0], state })
      : alice.listReadReceipts(groupId, messageIds[0], { state: c.state } as { state: ReadStateInit });
  }

  for (const c of cases) {
    it(`${c.rpc}, ${c.name}: rejected locally, nothing sent, same error as the server`, async () => {
      await expectLocalFieldInvalid(c.field, () => receiptCalls, (raw) => call(c, raw));
    });
  }

  it("100 distinct IDs pass the local checks even with a duplicate among 101; the server names every one it cannot find", async () => {
    const distinct = ids(100, "m");
    const before = receiptCalls;
    const err = await rejection(() => alice.sendReadReceipts(app.groupId, [...distinct, "m7"]));
    expect(receiptCalls).toBe(before + 1);
    expect(errorSummary(err)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "message_ids", ids: distinct });
    expect((err as NarrowcastError).local).toBe(false);
    // The exported check counts distinct IDs too, as the server does (RCP-3).
    expect(() => checkSendReadReceiptsRequest({ groupId: app.groupId, messageIds: [...distinct, "m7"] })).not.toThrow();
    expect(() => checkSendReadReceiptsRequest({ groupId: app.groupId, messageIds: ["m1", "m1"] })).not.toThrow();
  });

  it("readReceipts() rejects a missing state at the call, before any page is fetched; an unknown state name is a TypeError", () => {
    const before = receiptCalls;
    expect(() => alice.readReceipts(app.groupId, messageId, {} as { state: ReadStateInit })).toThrow(NarrowcastError);
    expect(() => alice.readReceipts(app.groupId, messageId, { state: "seen" as ReadStateInit })).toThrow(TypeError);
    expect(receiptCalls).toBe(before);
  });
});
