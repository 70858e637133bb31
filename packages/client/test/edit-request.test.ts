// EditMessage in the SDK without a server: how content becomes the wire request, the local
// checks (rule EDT-6's order), the messageEdited event, the edit info on the SDK's Message and
// ServerInfo, the new reasons, and the CLI's lines. The server-backed half is edit.test.ts.
import { create } from "@bufbuild/protobuf";
import type { Message as WireMessage } from "@narrowcast/gen";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Interceptor } from "@connectrpc/connect";
import { EventSchema, MessageElementSchema, MessageSchema, RecallInfoSchema, ServerInfoSchema } from "@narrowcast/gen";
import { describe, expect, it } from "vitest";
import { formatEvent, formatMessage } from "../src/cli/format.js";
import { toClientEvent } from "../src/events.js";
import {
  Code,
  NarrowcastError,
  Reason,
  checkEditMessageRequest,
  createClient,
  createCustomMessage,
  createElement,
  createMessage,
  createTargetedGroupMessage,
  createTextAtMessage,
  createTextMessage,
  fromProto,
  isKnownReason,
  toEditMessageRequest,
} from "../src/index.js";
import type { EditContent } from "../src/index.js";
import { toMessage, toServerInfo } from "../src/model.js";

const utf8 = new TextEncoder();

/** What a synchronous call threw (fails the test if it did not throw). */
function thrown(fn: () => unknown): NarrowcastError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(NarrowcastError);
    return e as NarrowcastError;
  }
  throw new Error("expected a throw");
}

/** The contract of an error (ERR-1): code, reason, domain, field, the BadRequest violation, local. */
function summary(err: NarrowcastError) {
  return {
    code: err.code,
    reason: err.reason,
    domain: err.domain,
    field: err.field,
    violations: err.fieldViolations.map(({ field, reason }) => ({ field, reason })),
    local: err.local,
  };
}

function expectLocal(err: NarrowcastError, reason: Reason, field: string) {
  expect(summary(err)).toEqual({
    code: Code.InvalidArgument,
    reason,
    domain: "narrowcast",
    field,
    violations: [{ field, reason }],
    local: true,
  });
}

describe("toEditMessageRequest: the content forms", () => {
  it("a string is one text element and clears the custom data", () => {
    const request = toEditMessageRequest("g1", "m1", "fixed");
    expect(request).toMatchObject({ groupId: "g1", messageId: "m1" });
    expect(request.elements).toEqual([createElement({ text: "fixed" })]);
    expect(request.customData).toEqual(new Uint8Array(0));
  });

  it("a builder's draft gives its elements and custom data", () => {
    const draft = createMessage([{ text: "look" }, { image: { url: "https://img.example/c.png", width: 2, height: 1 } }], {
      customData: utf8.encode("app-data"),
    });
    const request = toEditMessageRequest("g1", "m1", draft);
    expect(request.elements).toEqual(draft.elements);
    expect(request.customData).toEqual(utf8.encode("app-data"));
    expect(toEditMessageRequest("g1", "m1", createCustomMessage("{}", "an order")).elements).toEqual([
      createElement({ custom: { data: "{}", description: "an order" } }),
    ]);
  });

  it("the web form's `to` may name the same group, not another one", () => {
    const same = createTextMessage({ to: "g1", payload: { text: "hi" } });
    expect(toEditMessageRequest("g1", "m1", same).elements).toEqual([createElement({ text: "hi" })]);
    const other = createTextMessage({ to: "g2", payload: { text: "hi" } });
    expectLocal(thrown(() => toEditMessageRequest("g1", "m1", other)), Reason.FIELD_INVALID, "to");
  });

  it("{ elements, customData } takes createMessage's element form and the SDK's own (message.elements)", () => {
    const sdkElements = [
      fromProto(MessageElementSchema, createElement({ text: "old" })),
      fromProto(MessageElementSchema, createElement({ file: { url: "https://f.example/r.pdf", sizeBytes: 99 } })),
    ];
    // The SDK form has plain numbers where the wire has bigint.
    expect(sdkElements[1].element).toMatchObject({ case: "file", value: { sizeBytes: 99 } });
    const content: EditContent = { elements: [...sdkElements, { text: "PS" }], customData: utf8.encode("x") };
    const request = toEditMessageRequest("g1", "m1", content);
    expect(request.elements).toEqual([
      createElement({ text: "old" }),
      createElement({ file: { url: "https://f.example/r.pdf", sizeBytes: 99 } }),
      createElement({ text: "PS" }),
    ]);
    expect(request.customData).toEqual(utf8.encode("x"));
    expect(toEditMessageRequest("g1", "m1", { elements: [{ text: "a" }] }).customData).toEqual(new Uint8Array(0));
  });

  it("a draft with receivers or mentions is refused: an edit cannot change who sees a message (DRV-1)", () => {
    const targeted = createTargetedGroupMessage(createTextMessage("x"), ["bob"]);
    expectLocal(thrown(() => toEditMessageRequest("g1", "m1", targeted)), Reason.FIELD_INVALID, "receiverList");
    const mentioning = createTextAtMessage("hi @bob", ["bob"]);
    expectLocal(thrown(() => toEditMessageRequest("g1", "m1", mentioning)), Reason.FIELD_INVALID, "atUserList");
    // The request type itself has no field that could carry them.
    expect(Object.keys(toEditMessageRequest("g1", "m1", "x")).sort()).toEqual(
      ["$typeName", "customData", "elements", "groupId", "messageId"].sort(),
    );
  });
});

describe("checkEditMessageRequest: local rejections in EditMessage's order of checks (EDT-6)", () => {
  const request = (groupId: string, messageId: string, content: EditContent) =>
    toEditMessageRequest(groupId, messageId, content);
  const cases: { name: string; groupId?: string; messageId?: string; content: EditContent; reason: Reason; field: string }[] = [
    { name: "missing group ID", groupId: "", content: "x", reason: Reason.FIELD_INVALID, field: "group_id" },
    { name: "malformed group ID", groupId: "bad group!", content: "x", reason: Reason.FIELD_INVALID, field: "group_id" },
    { name: "missing message ID", messageId: "", content: "x", reason: Reason.FIELD_INVALID, field: "message_id" },
    { name: "no elements (MSG-3)", content: { elements: [] }, reason: Reason.EMPTY_MESSAGE, field: "elements" },
    { name: "empty text (MSG-3)", content: { elements: [{ text: "ok" }, { text: "" }] }, reason: Reason.INVALID_ELEMENT, field: "elements[1]" },
    { name: "an empty string is an empty text element", content: "", reason: Reason.INVALID_ELEMENT, field: "elements[0]" },
    { name: "element without a kind", content: { elements: [{ element: { case: undefined } }] }, reason: Reason.INVALID_ELEMENT, field: "elements[0]" },
    { name: "larger than 12 KB (MSG-4)", content: "x".repeat(12_300), reason: Reason.MESSAGE_TOO_LARGE, field: "elements" },
    {
      name: "custom data counts toward the size (MSG-4)",
      content: { elements: [{ text: "small" }], customData: new Uint8Array(12_300) },
      reason: Reason.MESSAGE_TOO_LARGE,
      field: "elements",
    },
    { name: "FIELD_INVALID comes first: missing message ID and no elements", messageId: "", content: { elements: [] }, reason: Reason.FIELD_INVALID, field: "message_id" },
    { name: "group ID before message ID", groupId: "", messageId: "", content: "x", reason: Reason.FIELD_INVALID, field: "group_id" },
    { name: "EMPTY / INVALID before too large", content: { elements: [{ text: "" }], customData: new Uint8Array(13_000) }, reason: Reason.INVALID_ELEMENT, field: "elements[0]" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const err = thrown(() => checkEditMessageRequest(request(c.groupId ?? "g1", c.messageId ?? "m1", c.content)));
      expectLocal(err, c.reason, c.field);
    });
  }

  it("passes content a send would pass, up to the size limit", () => {
    expect(() => checkEditMessageRequest(request("g1", "m1", "fixed"))).not.toThrow();
    // A text element of n bytes (n ≥ 128) encodes in n + 9 bytes inside a Message: three tags, three 2-byte lengths.
    expect(() => checkEditMessageRequest(request("g1", "m1", "x".repeat(12_288 - 9)))).not.toThrow();
    expect(() => checkEditMessageRequest(request("g1", "m1", "x".repeat(12_288 - 8)))).toThrow(/MESSAGE_TOO_LARGE/);
  });

  it("client.editMessage rejects before any network call", async () => {
    let calls = 0;
    const count: Interceptor = (next) => async (req) => {
      calls++;
      return next(req);
    };
    // Nothing listens there: a request that left the client would fail with Unavailable instead.
    const client = createClient({ baseUrl: "http://127.0.0.1:9", token: "t", interceptors: [count] });
    try {
      for (const [content, reason] of [
        [{ elements: [] }, Reason.EMPTY_MESSAGE],
        ["x".repeat(12_300), Reason.MESSAGE_TOO_LARGE],
        [createTargetedGroupMessage(createTextMessage("x"), ["bob"]), Reason.FIELD_INVALID],
      ] as const) {
        await expect(client.editMessage("g1", "m1", content)).rejects.toMatchObject({ reason, local: true });
      }
      await expect(client.editMessage("g1", "", "x")).rejects.toMatchObject({ reason: Reason.FIELD_INVALID, field: "message_id" });
      expect(calls).toBe(0);
    } finally {
      await client.close();
    }
  });
});

const sentAt = new Date("2030-01-02T03:04:05.000Z");
const editedAt = new Date("2030-01-02T03:09:00.000Z");

/** A stored message edited twice; `change` adjusts it. */
function editedMessage(change: (m: WireMessage) => void = () => {}): WireMessage {
  const message = create(MessageSchema, {
    groupId: "team",
    messageId: "m-7",
    seq: 7n,
    senderId: "alice",
    serverTime: timestampFromDate(sentAt),
    elements: [createElement({ text: "the plan" })],
    mentionedUserIds: ["bob"],
    edit: { editCount: 2, editTime: timestampFromDate(editedAt) },
  });
  change(message);
  return message;
}

const unedited = () => editedMessage((m) => (m.edit = undefined));

describe("the edit info and the messageEdited event in SDK form", () => {
  it("Message.edit: editCount a number, editTime a Date, like recall; absent on unedited messages", () => {
    const message = toMessage(editedMessage());
    expect(message.edit).toEqual({ editCount: 2, editTime: editedAt });
    expect(message.seq).toBe(7);
    expect(toMessage(unedited()).edit).toBeUndefined();
  });

  it("toClientEvent maps messageEdited to { type: 'messageEdited', message }, shaped like messageReceived", () => {
    const event = create(EventSchema, {
      cursor: "c-9",
      time: timestampFromDate(editedAt),
      payload: { case: "messageEdited", value: { message: editedMessage() } },
    });
    const mapped = toClientEvent(event);
    expect(mapped).toEqual({ type: "messageEdited", cursor: "c-9", time: editedAt, event, message: toMessage(editedMessage()) });
    const received = toClientEvent(
      create(EventSchema, { cursor: "c-8", payload: { case: "messageReceived", value: { message: unedited() } } }),
    );
    expect(Object.keys(mapped ?? {}).sort()).toEqual(Object.keys(received ?? {}).sort());
    // A payload without its message is dropped, as for messageReceived.
    expect(toClientEvent(create(EventSchema, { cursor: "c-10", payload: { case: "messageEdited", value: {} } }))).toBeUndefined();
  });

  it("ServerInfo.editWindow is a { seconds, nanos } duration like recallWindow", () => {
    const info = toServerInfo(
      create(ServerInfoSchema, { recallWindow: durationFromMs(120_000), editWindow: durationFromMs(86_400_000) }),
    );
    expect(info.editWindow).toEqual({ seconds: 86_400, nanos: 0 });
    expect(info.recallWindow).toEqual({ seconds: 120, nanos: 0 });
  });

  it("the two edit reasons are known constants", () => {
    expect(Reason.EDIT_NOT_ALLOWED).toBe("EDIT_NOT_ALLOWED");
    expect(Reason.EDIT_WINDOW_EXPIRED).toBe("EDIT_WINDOW_EXPIRED");
    expect(isKnownReason("EDIT_NOT_ALLOWED") && isKnownReason("EDIT_WINDOW_EXPIRED")).toBe(true);
  });
});

describe("CLI lines", () => {
  it("formatMessage marks an edited message (edited); a recalled one shows only (recalled)", () => {
    expect(formatMessage(toMessage(editedMessage()))).toBe("team #7 alice: the plan (edited) @bob");
    expect(formatMessage(toMessage(unedited()))).toBe("team #7 alice: the plan @bob");
    const recalled = editedMessage((m) => {
      m.elements = [];
      m.recall = create(RecallInfoSchema, { recalledBy: "alice", recallTime: timestampFromDate(editedAt) });
    });
    expect(formatMessage(toMessage(recalled))).toBe("team #7 alice: (recalled) @bob");
  });

  it("formatEvent prints a messageEdited event in the tail's columns", () => {
    const event = toClientEvent(
      create(EventSchema, { cursor: "c-9", payload: { case: "messageEdited", value: { message: editedMessage() } } }),
    );
    expect(event && formatEvent(event)).toBe("edited       team #7 alice: the plan (edited) @bob");
    const received = toClientEvent(create(EventSchema, { cursor: "c-8", payload: { case: "messageReceived", value: { message: editedMessage() } } }));
    // Same column as the other event lines.
    expect((event && formatEvent(event))?.indexOf("team")).toBe((received && formatEvent(received))?.indexOf("team"));
  });
});
