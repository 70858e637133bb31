// Quote replies through the SDK against a real server (rules RPL-1 to RPL-4, DRV-1): the ways to
// send one, what each reader is shown of the quote (available, edited, recalled, unavailable
// after a re-join), resolveQuote for events that carry the ID alone, and the no-widening rule for
// targeted messages. Local rejections are in early-errors.test.ts, the CLI's command in cli.test.ts.
import type { Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatEvent, formatMessage, formatQuote } from "../src/cli/format.js";
import {
  Code,
  NarrowcastError,
  QuoteStatus,
  Reason,
  createMessage,
  createTargetedGroupMessage,
  createTextMessage,
  toEditMessageRequest,
  toSendMessageRequest,
} from "../src/index.js";
import type { Message, MessageReceivedEvent, NarrowcastClient, ReplyTo } from "../src/index.js";
import { Recorder, errorSummary, rejection, startFixture, textOf } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

let getMessageCalls = 0;
// Counts GetMessage calls that reach the transport (resolveQuote's only call).
const countGets: Interceptor = (next) => async (req) => {
  if (req.method.name === "GetMessage") {
    getMessageCalls++;
  }
  return next(req);
};

/** The message of the first messageReceived event with this text. */
async function received(recorder: Recorder, text: string): Promise<Message> {
  return ((await recorder.untilText(text)) as MessageReceivedEvent).message;
}

/** The reply as `reader` is shown it by getMessage and listMessages, which must agree. */
async function shownQuote(reader: NarrowcastClient, groupId: string, replyId: string): Promise<ReplyTo | undefined> {
  const viaGet = (await reader.getMessage(groupId, replyId)).replyTo;
  const viaList = (await reader.listMessages(groupId)).items.find((m) => m.messageId === replyId)?.replyTo;
  expect(viaList).toEqual(viaGet);
  return viaGet;
}

/** Sends a marker and waits until every recorder has it: events of one group arrive in order (EVT-8). */
async function settle(sender: NarrowcastClient, groupId: string, recorders: Recorder[], text = "marker"): Promise<void> {
  await sender.sendMessage(createTextMessage(text), { groupId });
  await Promise.all(recorders.map((r) => r.untilText(text)));
}

describe("sending a reply (RPL-1)", () => {
  it("reply(), the replyTo send option and the builders' replyTo send the same quote reply; response and event carry the ID alone", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => app.client(u)));
    const recorder = new Recorder(carol);
    await carol.connect();
    const quoted = await alice.sendMessage(createTextMessage("lunch?"), { groupId: app.groupId });
    const unresolved = { messageId: quoted.messageId, status: QuoteStatus.UNSPECIFIED, quoted: undefined };

    const replies = [
      await bob.reply(app.groupId, quoted.messageId, "yes"),
      await bob.reply(app.groupId, quoted.messageId, createMessage([{ text: "a draft" }, { custom: { data: "x" } }])),
      await bob.sendMessage(createTextMessage("option"), { groupId: app.groupId, replyTo: quoted.messageId }),
      await bob.sendMessage(createMessage([{ text: "builder" }], { replyTo: quoted.messageId }), { groupId: app.groupId }),
      await bob.sendMessage(createTextMessage({ to: app.groupId, payload: { text: "web form" }, replyTo: quoted.messageId })),
    ];
    for (const reply of replies) {
      expect(reply.replyTo, textOf(reply)).toEqual(unresolved);
      expect(reply.receiverIds).toEqual([]);
      expect((await received(recorder, textOf(reply))).replyTo, textOf(reply)).toEqual(unresolved);
    }
    expect(replies[1].elements).toHaveLength(2);
    // An ordinary message is no reply at all.
    expect(quoted.replyTo).toBeUndefined();
    expect((await carol.getMessage(app.groupId, quoted.messageId)).replyTo).toBeUndefined();

    // The option wins over the draft's replyTo, as groupId wins over `to`.
    const draft = createMessage([{ text: "x" }], { replyTo: "from-draft" });
    expect(toSendMessageRequest(draft, { groupId: "g" }).replyToMessageId).toBe("from-draft");
    expect(toSendMessageRequest(draft, { groupId: "g", replyTo: "from-option" }).replyToMessageId).toBe("from-option");
    expect(toSendMessageRequest(createTextMessage("x"), { groupId: "g" }).replyToMessageId).toBe("");
    // A targeted draft keeps its replyTo.
    expect(createTargetedGroupMessage(draft, ["bob"]).replyTo).toBe("from-draft");
  });

  it("the system (AdminService) may reply too, also to a targeted message within its audience", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => app.client(u)));
    const secret = await alice.sendMessage(createTextMessage("for bob"), { groupId: app.groupId, receiver: "bob" });
    const bySystem = await fx.admin.sendMessage(app.appId, createTextMessage("noted"), {
      groupId: app.groupId,
      replyTo: secret.messageId,
      receiver: "bob",
    });
    expect(bySystem).toMatchObject({ senderId: "", receiverIds: ["bob"], replyTo: { messageId: secret.messageId } });
    expect((await shownQuote(bob, app.groupId, bySystem.messageId))?.quoted?.messageId).toBe(secret.messageId);
  });

  it("an edit keeps what a message replies to, and cannot set it (RPL-4)", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => app.client(u)));
    const quoted = await alice.sendMessage(createTextMessage("lunch?"), { groupId: app.groupId });
    const reply = await bob.reply(app.groupId, quoted.messageId, "yes");
    const edited = await bob.editMessage(app.groupId, reply.messageId, "yes, at noon");
    expect(edited.replyTo?.messageId).toBe(quoted.messageId);
    expect((await shownQuote(alice, app.groupId, reply.messageId))?.quoted?.messageId).toBe(quoted.messageId);

    const err = await rejection(async () => toEditMessageRequest(app.groupId, reply.messageId, createMessage([{ text: "x" }], { replyTo: "other" })));
    expect(errorSummary(err)).toMatchObject({ code: Code.InvalidArgument, reason: Reason.FIELD_INVALID, field: "replyTo" });
    expect((err as NarrowcastError).local).toBe(true);
    const refused = await rejection(() => bob.editMessage(app.groupId, reply.messageId, createTextMessage({ to: app.groupId, payload: { text: "x" }, replyTo: "other" })));
    expect(errorSummary(refused)).toMatchObject({ reason: Reason.FIELD_INVALID, field: "replyTo" });
    expect(textOf(await bob.getMessage(app.groupId, reply.messageId))).toBe("yes, at noon");
  });

  it("a quoted message that is unknown, of another group or hidden is MESSAGE_NOT_FOUND; a recalled one ALREADY_RECALLED", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => app.client(u)));
    const other = await fx.admin.createGroup(app.appId, { type: "work", groupId: `${app.groupId}-other`, ownerId: "alice", memberIds: ["carol"] });
    const elsewhere = await alice.sendMessage(createTextMessage("elsewhere"), { groupId: other.groupId });
    const secret = await alice.sendMessage(createTextMessage("for bob"), { groupId: app.groupId, receiver: "bob" });
    const recalled = await alice.sendMessage(createTextMessage("oops"), { groupId: app.groupId });
    await alice.recallMessage(app.groupId, recalled.messageId);

    const missing = await rejection(() => carol.reply(app.groupId, "no-such-message", "?"));
    expect(errorSummary(missing)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "reply_to_message_id" });
    expect((missing as NarrowcastError).local).toBe(false);
    // Hidden, or in another group (carol's too): exactly the error of an ID that does not exist (DRV-1).
    for (const id of [secret.messageId, elsewhere.messageId]) {
      const err = await rejection(() => carol.reply(app.groupId, id, "?"));
      expect(errorSummary(err)).toEqual(errorSummary(missing));
      expect((err as NarrowcastError).rawMessage).toBe((missing as NarrowcastError).rawMessage);
    }
    expect(errorSummary(await rejection(() => bob.reply(app.groupId, recalled.messageId, "?")))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: Reason.ALREADY_RECALLED,
      field: "reply_to_message_id",
    });
    // None of the refused replies was stored: the next message takes the next seq.
    expect((await bob.sendMessage(createTextMessage("next"), { groupId: app.groupId })).seq).toBe(recalled.seq + 1);
  });
});

describe("what each reader is shown of the quote (RPL-3)", () => {
  it("available: the quoted message as the reader sees it now — edited, then recalled — without its reactions or its own quote; resolveQuote agrees", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => app.client(u)));
    const carol = await app.client("carol", { interceptors: [countGets] });
    const recorder = new Recorder(carol);
    await carol.connect();
    const first = await alice.sendMessage(createTextMessage("the plan"), { groupId: app.groupId });
    const quoted = await alice.reply(app.groupId, first.messageId, "teh plan, v2");
    await carol.addReaction(app.groupId, quoted.messageId, "👍");
    const reply = await bob.reply(app.groupId, quoted.messageId, "agreed");
    const event = await received(recorder, "agreed");

    /** The quote carol must be shown: the quoted message as she reads it, reactions and own quote left out. */
    const expectedQuote = async (): Promise<ReplyTo> => {
      const asRead = await carol.getMessage(app.groupId, quoted.messageId);
      expect(asRead.replyTo?.status).toBe(QuoteStatus.AVAILABLE);
      return {
        messageId: quoted.messageId,
        status: QuoteStatus.AVAILABLE,
        quoted: { ...asRead, reactions: [], replyTo: { messageId: first.messageId, status: QuoteStatus.UNSPECIFIED, quoted: undefined } },
      };
    };
    const check = async (text: string) => {
      const shown = await shownQuote(carol, app.groupId, reply.messageId);
      expect(shown).toEqual(await expectedQuote());
      expect(textOf(shown!.quoted!)).toBe(text);
      const before = getMessageCalls;
      expect(await carol.resolveQuote(event)).toEqual(shown);
      expect(getMessageCalls).toBe(before + 1);
      return shown!.quoted!;
    };

    const original = await check("teh plan, v2");
    expect((await carol.getMessage(app.groupId, quoted.messageId)).reactions).toHaveLength(1);
    expect(original.edit).toBeUndefined();
    expect(formatMessage(await carol.getMessage(app.groupId, reply.messageId))).toBe(
      `${app.groupId} #${reply.seq} bob: agreed ↪ re #${quoted.seq} alice: teh plan, v2`,
    );

    await alice.editMessage(app.groupId, quoted.messageId, "the plan, v2");
    const edited = await check("the plan, v2");
    expect(edited.edit?.editCount).toBe(1);

    await alice.recallMessage(app.groupId, quoted.messageId);
    const recalled = await check("");
    expect(recalled).toMatchObject({ elements: [], recall: { recalledBy: "alice" } });
    expect(formatQuote((await carol.getMessage(app.groupId, reply.messageId)).replyTo!)).toBe(`↪ re #${quoted.seq} alice: (recalled)`);
    // The recall leaves the reply's reply_to as it is (RPL-4).
    expect((await carol.getMessage(app.groupId, reply.messageId)).replyTo?.messageId).toBe(quoted.messageId);

    // Already resolved, or not a reply: nothing to fetch.
    const before = getMessageCalls;
    const resolved = await carol.getMessage(app.groupId, reply.messageId);
    expect(await carol.resolveQuote(resolved)).toBe(resolved.replyTo);
    expect(await carol.resolveQuote(first)).toBeUndefined();
    expect(getMessageCalls).toBe(before + 1);
  });

  it("unavailable: a member who re-joined a WORK group is not shown a quote from before, and cannot reply to it (VIS-3, DRV-1)", async () => {
    const app = await fx.app({ users: ["alice", "bob", "dave"] });
    const [alice, bob, dave] = await Promise.all(["alice", "bob", "dave"].map((u) => app.client(u)));
    const old = await alice.sendMessage(createTextMessage("before dave re-joined"), { groupId: app.groupId });
    await dave.leaveGroup(app.groupId);
    await fx.admin.addMembers(app.appId, app.groupId, ["dave"]);
    const recorder = new Recorder(dave);
    await dave.connect();
    const reply = await bob.reply(app.groupId, old.messageId, "about the old one");

    const unavailable = { messageId: old.messageId, status: QuoteStatus.UNAVAILABLE, quoted: undefined };
    const shown = await shownQuote(dave, app.groupId, reply.messageId);
    expect(shown).toEqual(unavailable);
    expect(shown?.quoted).toBeUndefined();
    const event = await received(recorder, "about the old one");
    expect(event.replyTo).toEqual({ messageId: old.messageId, status: QuoteStatus.UNSPECIFIED, quoted: undefined });
    expect(await dave.resolveQuote(event)).toEqual(unavailable);
    expect(formatMessage(await dave.getMessage(app.groupId, reply.messageId))).toBe(
      `${app.groupId} #${reply.seq} bob: about the old one ↪ re ${old.messageId} (not available)`,
    );
    // The members who may see it are shown it.
    expect((await shownQuote(bob, app.groupId, reply.messageId))?.status).toBe(QuoteStatus.AVAILABLE);

    const hidden = await rejection(() => dave.reply(app.groupId, old.messageId, "what was that?"));
    const missing = await rejection(() => dave.reply(app.groupId, "no-such-message", "what was that?"));
    expect(errorSummary(hidden)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "reply_to_message_id" });
    expect(errorSummary(hidden)).toEqual(errorSummary(missing));
  });

  it("resolveQuote throws errors other than MESSAGE_NOT_FOUND (here: the reader left the group)", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => app.client(u)));
    const quoted = await alice.sendMessage(createTextMessage("hi"), { groupId: app.groupId });
    const reply = await alice.reply(app.groupId, quoted.messageId, "hi again");
    await bob.leaveGroup(app.groupId);
    expect(errorSummary(await rejection(() => bob.resolveQuote(reply)))).toMatchObject({
      code: Code.PermissionDenied,
      reason: Reason.NOT_A_MEMBER,
    });
  });
});

describe("replies to targeted messages never widen their audience (RPL-2)", () => {
  it("an ordinary reply, or one to a receiver outside the audience, is REPLY_WIDENS_AUDIENCE; replies within it reach only their receivers", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol", "dave"] });
    const [alice, bob, carol, dave] = await Promise.all(["alice", "bob", "carol", "dave"].map((u) => app.client(u)));
    const recorders = { alice: new Recorder(alice), carol: new Recorder(carol), dave: new Recorder(dave) };
    await Promise.all([alice.connect(), carol.connect(), dave.connect()]);
    const secret = await alice.sendMessage(createTargetedGroupMessage(createTextMessage("for bob and carol"), ["bob", "carol"]), {
      groupId: app.groupId,
    });

    const ordinary = await rejection(() => bob.reply(app.groupId, secret.messageId, "to everyone"));
    expect(ordinary).toBeInstanceOf(NarrowcastError);
    expect((ordinary as NarrowcastError).is(Reason.REPLY_WIDENS_AUDIENCE)).toBe(true);
    expect(errorSummary(ordinary)).toMatchObject({
      code: Code.FailedPrecondition,
      reason: Reason.REPLY_WIDENS_AUDIENCE,
      domain: "narrowcast",
      field: "reply_to_message_id",
      ids: [],
    });
    expect((ordinary as NarrowcastError).local).toBe(false);
    const outside = await rejection(() =>
      bob.reply(app.groupId, secret.messageId, createTargetedGroupMessage(createTextMessage("to carol and dave"), ["carol", "dave"])),
    );
    expect(errorSummary(outside)).toMatchObject({
      code: Code.FailedPrecondition,
      reason: Reason.REPLY_WIDENS_AUDIENCE,
      field: "receiver_ids",
      ids: ["dave"],
    });

    // Privately to the quoted message's sender, and to another receiver: accepted.
    const toSender = await bob.reply(app.groupId, secret.messageId, "privately to alice", { receiver: "alice" });
    const toCarol = await bob.reply(app.groupId, secret.messageId, createTargetedGroupMessage(createTextMessage("just carol"), ["carol"]));
    // The refused replies stored nothing: the accepted ones took the next seqs.
    expect([toSender.seq, toCarol.seq]).toEqual([secret.seq + 1, secret.seq + 2]);
    expect(toSender).toMatchObject({ receiverIds: ["alice"], replyTo: { messageId: secret.messageId } });
    expect(toCarol).toMatchObject({ receiverIds: ["carol"], replyTo: { messageId: secret.messageId } });

    for (const [reader, reply] of [
      [alice, toSender],
      [carol, toCarol],
    ] as const) {
      const shown = await shownQuote(reader, app.groupId, reply.messageId);
      expect(shown?.status).toBe(QuoteStatus.AVAILABLE);
      expect(textOf(shown!.quoted!)).toBe("for bob and carol");
    }
    expect(formatMessage(await alice.getMessage(app.groupId, toSender.messageId))).toBe(
      `${app.groupId} #${toSender.seq} bob → alice: privately to alice ↪ re #${secret.seq} alice → bob, carol: for bob and carol`,
    );

    await settle(bob, app.groupId, Object.values(recorders));
    expect(recorders.alice.texts()).toEqual(["for bob and carol", "privately to alice", "marker"]);
    expect(recorders.carol.texts()).toEqual(["for bob and carol", "just carol", "marker"]);
    expect(recorders.dave.texts()).toEqual(["marker"]);
    // An outsider's reply fails exactly as one to a message that does not exist (DRV-1).
    const hidden = await rejection(() => dave.reply(app.groupId, secret.messageId, "guess", { receiver: "alice" }));
    const missing = await rejection(() => dave.reply(app.groupId, "no-such-message", "guess", { receiver: "alice" }));
    expect(errorSummary(hidden)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "reply_to_message_id" });
    expect(errorSummary(hidden)).toEqual(errorSummary(missing));
  });
});

describe("the CLI's lines for replies", () => {
  it("a reply ends with its quote: available, not available, or the ID alone where unresolved", () => {
    const message = (init: Partial<Message>): Message => ({
      ...({} as Message),
      groupId: "g1",
      senderId: "bob",
      receiverIds: [],
      mentionedUserIds: [],
      reactions: [],
      elements: [{ element: { case: "text" as const, value: { text: "yes" } } }],
      ...init,
    });
    const quoted = message({ seq: 3, senderId: "alice", elements: [{ element: { case: "text", value: { text: "lunch?" } } }] });
    const reply = (replyTo: ReplyTo) => message({ seq: 5, replyTo });

    expect(formatMessage(reply({ messageId: "m3", status: QuoteStatus.AVAILABLE, quoted }))).toBe("g1 #5 bob: yes ↪ re #3 alice: lunch?");
    expect(formatMessage(reply({ messageId: "m3", status: QuoteStatus.UNAVAILABLE }))).toBe("g1 #5 bob: yes ↪ re m3 (not available)");
    expect(formatMessage(reply({ messageId: "m3", status: QuoteStatus.UNSPECIFIED }))).toBe("g1 #5 bob: yes ↪ re m3");
    expect(formatMessage(message({ seq: 5 }))).toBe("g1 #5 bob: yes");
    // The quote goes last, after the reply's own counts.
    expect(
      formatMessage({ ...reply({ messageId: "m3", status: QuoteStatus.UNSPECIFIED }), reactions: [{ reaction: "👍", count: 1, callerReacted: false }] }),
    ).toBe("g1 #5 bob: yes {👍 ×1} ↪ re m3");
    const event = reply({ messageId: "m3", status: QuoteStatus.UNSPECIFIED });
    expect(formatEvent({ type: "messageReceived", message: event, cursor: "c", time: undefined, event: {} as never })).toBe(
      "message      g1 #5 bob: yes ↪ re m3",
    );
  });
});
