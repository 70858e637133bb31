// Protocol-level tests, no server needed: the generated code round-trips every main message in
// both encodings (the google.rpc error details included), no integer field is unsigned, and
// docs/spec.md agrees with the generated services and enums of both packages (RPC table, error
// table, rule IDs, idempotency levels). The last block proves that the spec checks can fail.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  create,
  equals,
  fromBinary,
  fromJson,
  isFieldSet,
  ScalarType,
  toBinary,
  toJson,
  type DescMessage,
  type DescService,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  anyPack,
  anyUnpack,
  durationFromMs,
  MethodOptions_IdempotencyLevel,
  timestampFromMs,
} from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import * as gen from "@narrowcast/gen";
import * as adminGen from "@narrowcast/gen/admin";
import { AppSchema, Plan } from "@narrowcast/gen/admin";
import {
  BadRequestSchema,
  ConversationSchema,
  ErrorInfoSchema,
  ErrorReason,
  ErrorReasonSchema,
  EventSchema,
  GroupSchema,
  GroupType,
  GroupTypeSchema,
  JoinGroupResponseSchema,
  ListMessagesRequestSchema,
  MemberRole,
  MessageElementSchema,
  MessagePriority,
  QuoteStatus,
  MessageSchema,
  RetryInfoSchema,
  SendMessageRequestSchema,
  ServerInfoSchema,
  StatusSchema,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
  type Event,
  type Message,
  type MessageElement,
} from "@narrowcast/gen";
import {
  checkCitations,
  checkErrorTable,
  checkRpcTable,
  checkRuleIds,
  errorTable,
  readSpec,
  ruleDefinitions,
  rpcTable,
  section,
} from "./spec-tables.js";

const spec = readSpec();
// Both packages: narrowcast.v1 (the "@narrowcast/gen" barrel) and narrowcast.admin.v1 ("/admin").
const services: DescService[] = [...Object.values(gen), ...Object.values(adminGen)].flatMap((value) =>
  isService(value) ? [value] : [],
);
const messageSchemas: DescMessage[] = [...Object.values(gen), ...Object.values(adminGen)].flatMap((value) =>
  isMessage(value) ? [value] : [],
);
const codeNames = Object.keys(Code).filter((key) => Number.isNaN(Number(key)));

// Every rule ID published so far: the first rule table (0.1.0) and the v1 freeze (0.2.0). IDs are
// never removed or reused (spec section 2; a withdrawn rule stays listed as withdrawn), so each of
// these must stay defined forever. A new rule adds its ID here in the release that publishes it.
const stableRuleIds = [
  // 0.1.0
  ...range("ERR", 3), ...range("AUTH", 6), ...range("ADM", 6), ...range("GRP", 12), ...range("MSG", 15),
  ...range("TGT", 12), ...range("UNR", 8), ...range("CNV", 3), ...range("EVT", 9),
  // 0.2.0
  ...range("WIRE", 5), "ERR-4", "ERR-5", "AUTH-7", ...range("ADM", 11), ...range("GRP", 14), ...range("VIS", 3),
  ...range("MSG", 16), ...range("EVT", 11), ...range("PAG", 3), ...range("SRV", 2),
];

function range(prefix: string, last: number): string[] {
  return Array.from({ length: last }, (_, i) => `${prefix}-${i + 1}`);
}

function isService(value: unknown): value is DescService {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "service";
}

function isMessage(value: unknown): value is DescMessage {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "message";
}

/** Binary and JSON (through a JSON string, as on the wire) round trips must give an equal message. */
function expectRoundTrips<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  const fromBin = fromBinary(schema, toBinary(schema, message));
  expect(equals(schema, fromBin, message), `${schema.typeName} binary round trip`).toBe(true);
  const fromJsonText = fromJson(schema, JSON.parse(JSON.stringify(toJson(schema, message))));
  expect(equals(schema, fromJsonText, message), `${schema.typeName} JSON round trip`).toBe(true);
  // Sanity check that equals() is not trivially true: a changed copy must differ.
  const changed = fromBinary(schema, toBinary(schema, message));
  const first = schema.fields[0];
  if (first.fieldKind === "scalar" && first.scalar === ScalarType.STRING) {
    (changed as Record<string, unknown>)[first.localName] = "changed";
    expect(equals(schema, changed, message)).toBe(false);
  }
}

/** Names of the fields that none of the fixtures sets, so that a new field cannot go untested. */
function fieldsSetByNone<Desc extends DescMessage>(schema: Desc, fixtures: MessageShape<Desc>[]): string[] {
  return schema.fields.filter((field) => !fixtures.some((m) => isFieldSet(m, field))).map((field) => field.name);
}

const time = timestampFromMs(1_763_776_800_123);

const allElements: MessageElement[] = [
  create(MessageElementSchema, { element: { case: "text", value: { text: "hello, 世界" } } }),
  create(MessageElementSchema, {
    element: { case: "custom", value: { data: new Uint8Array([0, 1, 254, 255]), description: "poll", extension: "v2" } },
  }),
  create(MessageElementSchema, {
    element: {
      case: "image",
      value: { url: "https://cdn.example/a.png", width: 640, height: 480, sizeBytes: 123_456n, thumbnailUrl: "https://cdn.example/a_t.png" },
    },
  }),
  create(MessageElementSchema, {
    element: { case: "file", value: { url: "https://cdn.example/r.pdf", fileName: "report.pdf", sizeBytes: 9_007_199_254_740_993n } },
  }),
  create(MessageElementSchema, {
    element: { case: "location", value: { description: "Pier 39", latitude: 37.8087, longitude: -122.4098 } },
  }),
  create(MessageElementSchema, { element: { case: "face", value: { index: 7, data: new TextEncoder().encode("set-a") } } }),
];

const ordinaryMessage: Message = create(MessageSchema, {
  groupId: "grp.work-1",
  seq: 41n,
  messageId: "m-41",
  clientMessageId: "c-7f3a",
  senderId: "alice",
  serverTime: time,
  elements: allElements,
  mentionedUserIds: ["bob", "carol"],
  mentionAll: true,
  priority: MessagePriority.HIGH,
  excludeFromUnread: true,
  excludeFromLastMessage: true,
  customData: new Uint8Array([1, 2, 3]),
  offlinePushInfo: { title: "Alice", description: "hello", extension: "{\"k\":1}" },
});

const targetedMessage: Message = create(MessageSchema, {
  groupId: "grp.work-1",
  seq: 42n,
  messageId: "m-42",
  senderId: "alice",
  serverTime: time,
  elements: [allElements[0]],
  receiverIds: ["bob", "dave@example.com"], // non-empty: targeted (TGT-7)
  countAsUnreadForReceivers: true,
  priority: MessagePriority.NORMAL,
});

const onlineOnlyMessage: Message = create(MessageSchema, {
  groupId: "room_1",
  messageId: "m-live",
  senderId: "bob",
  serverTime: time,
  elements: [allElements[0]],
  onlineOnly: true,
  priority: MessagePriority.LOW,
});

const recalledMessage: Message = create(MessageSchema, {
  groupId: "grp.work-1",
  seq: 40n,
  messageId: "m-40",
  senderId: "bob",
  serverTime: time,
  recall: { recalledBy: "alice", recallTime: time },
});

const editedMessage: Message = create(MessageSchema, {
  groupId: "grp.work-1",
  seq: 41n,
  messageId: "m-41",
  senderId: "bob",
  serverTime: time,
  elements: [allElements[0]],
  edit: { editCount: 2, editTime: time },
  reactions: [
    { reaction: "👍", count: 3, callerReacted: true },
    { reaction: ":+1:", count: 1, callerReacted: false },
  ],
  readReceiptsRequested: true,
  readReceipts: { readCount: 2, unreadCount: 5 },
  replyTo: { messageId: "m-40", status: QuoteStatus.AVAILABLE, quoted: { groupId: "grp.work-1", seq: 40n, messageId: "m-40", senderId: "alice", replyTo: { messageId: "m-39" } } },
});

const messageFixtures = [ordinaryMessage, targetedMessage, onlineOnlyMessage, recalledMessage, editedMessage];

const eventFixtures: Event[] = [
  create(EventSchema, { cursor: "c1", time, payload: { case: "messageReceived", value: { message: targetedMessage } } }),
  create(EventSchema, {
    cursor: "c2",
    time,
    payload: { case: "messageRecalled", value: { groupId: "grp.work-1", messageId: "m-40", seq: 40n, recall: recalledMessage.recall } },
  }),
  create(EventSchema, {
    cursor: "c3",
    time,
    payload: {
      case: "conversationUpdated",
      value: { conversation: { groupId: "grp.work-1", groupType: GroupType.WORK, unreadCount: 3, readSeq: 39n } },
    },
  }),
  create(EventSchema, {
    cursor: "c4",
    time,
    payload: {
      case: "memberJoined",
      value: { groupId: "grp.work-1", member: { userId: "erin", role: MemberRole.MEMBER, joinTime: time }, addedBy: "alice" },
    },
  }),
  create(EventSchema, { cursor: "c5", time, payload: { case: "memberLeft", value: { groupId: "grp.work-1", userId: "erin", removedBy: "alice" } } }),
  create(EventSchema, { cursor: "c6", time, payload: { case: "groupDismissed", value: { groupId: "grp.work-1" } } }),
  create(EventSchema, { cursor: "c7", time, payload: { case: "messageEdited", value: { message: editedMessage } } }),
  create(EventSchema, {
    cursor: "c8",
    time,
    payload: {
      case: "reactionChanged",
      value: { groupId: "grp.work-1", messageId: "m-41", seq: 41n, reaction: "👍🏽", userId: "carol", added: true, count: 4 },
    },
  }),
  create(EventSchema, {
    cursor: "c9",
    time,
    payload: { case: "messageRead", value: { groupId: "grp.work-1", messageId: "m-41", seq: 41n, readerId: "carol", counts: { readCount: 3, unreadCount: 4 } } },
  }),
];

describe("round trips of the main messages (binary and JSON)", () => {
  it("Message: ordinary with every element kind, targeted, online-only, recalled, edited with reactions", () => {
    const kinds = new Set(allElements.map((element) => element.element.case));
    expect([...kinds].sort()).toEqual(MessageElementSchema.oneofs[0].fields.map((f) => f.localName).sort());
    expect(fieldsSetByNone(MessageSchema, messageFixtures)).toEqual([]);
    for (const message of messageFixtures) expectRoundTrips(MessageSchema, message);
  });

  it("Message JSON uses the canonical mapping clients of every language rely on", () => {
    const json = toJson(MessageSchema, targetedMessage) as Record<string, unknown>;
    expect(json).toMatchObject({
      seq: "42", // 64-bit integers are strings in JSON
      receiverIds: ["bob", "dave@example.com"],
      countAsUnreadForReceivers: true,
      priority: "MESSAGE_PRIORITY_NORMAL",
    });
    expect(json).not.toHaveProperty("targeted"); // removed in 0.2.0: targeted ⇔ receiver_ids non-empty
    expect((toJson(MessageSchema, ordinaryMessage) as Record<string, unknown>).customData).toBe("AQID");
    // int32 sizes are JSON numbers, int64 sizes JSON strings (spec section 3.2).
    expect(toJson(MessageElementSchema, allElements[2])).toMatchObject({ image: { width: 640, sizeBytes: "123456" } });
  });

  it("Group", () => {
    const group = create(GroupSchema, {
      groupId: "g_1",
      type: GroupType.MEETING,
      name: "Stand-up",
      ownerId: "alice",
      memberCount: 12,
      createTime: time,
    });
    expect(fieldsSetByNone(GroupSchema, [group])).toEqual([]);
    expectRoundTrips(GroupSchema, group);
  });

  it("Conversation (with a targeted last message)", () => {
    const conversation = create(ConversationSchema, {
      groupId: "grp.work-1",
      groupType: GroupType.PUBLIC,
      groupName: "Support",
      unreadCount: 5,
      lastMessage: targetedMessage,
      readSeq: 37n,
      mentionedMe: true,
      mentionedAll: true,
    });
    expect(fieldsSetByNone(ConversationSchema, [conversation])).toEqual([]);
    expectRoundTrips(ConversationSchema, conversation);
  });

  it("Event with each payload kind", () => {
    const cases = eventFixtures.map((event) => event.payload.case);
    expect(cases.sort()).toEqual(EventSchema.oneofs[0].fields.map((f) => f.localName).sort());
    expect(fieldsSetByNone(EventSchema, eventFixtures)).toEqual([]);
    for (const event of eventFixtures) expectRoundTrips(EventSchema, event);
  });

  it("SubscribeResponse items (event, ready, heartbeat)", () => {
    const items = [
      create(SubscribeResponseSchema, { item: { case: "event", value: eventFixtures[0] } }),
      create(SubscribeResponseSchema, { item: { case: "ready", value: { cursor: "c6" } } }),
      create(SubscribeResponseSchema, { item: { case: "heartbeat", value: {} } }),
    ];
    expect(fieldsSetByNone(SubscribeResponseSchema, items)).toEqual([]);
    for (const item of items) expectRoundTrips(SubscribeResponseSchema, item);
  });

  it("google.rpc error details: ErrorInfo, BadRequest, RetryInfo, inside a google.rpc.Status (ERR-1, ERR-5, WIRE-5)", () => {
    const info = create(ErrorInfoSchema, {
      reason: "RECEIVER_NOT_MEMBER",
      domain: "narrowcast",
      metadata: { field: "receiver_ids", ids: "mallory,trent" },
    });
    const badRequest = create(BadRequestSchema, {
      fieldViolations: [{ field: "receiver_ids", description: "not members: mallory, trent", reason: "RECEIVER_NOT_MEMBER" }],
    });
    const retry = create(RetryInfoSchema, { retryDelay: durationFromMs(100) });
    expectRoundTrips(ErrorInfoSchema, info);
    expectRoundTrips(BadRequestSchema, badRequest);
    expectRoundTrips(RetryInfoSchema, retry);
    expect(toJson(ErrorInfoSchema, info)).toEqual({
      reason: "RECEIVER_NOT_MEMBER",
      domain: "narrowcast",
      metadata: { field: "receiver_ids", ids: "mallory,trent" },
    });
    expect(toJson(RetryInfoSchema, retry)).toEqual({ retryDelay: "0.100s" });

    // What gRPC carries in grpc-status-details-bin: a Status whose details are Any-packed.
    const status = create(StatusSchema, {
      code: 9,
      message: "not members: mallory, trent",
      details: [anyPack(ErrorInfoSchema, info), anyPack(BadRequestSchema, badRequest)],
    });
    expect(status.details.map((d) => d.typeUrl)).toEqual([
      "type.googleapis.com/google.rpc.ErrorInfo",
      "type.googleapis.com/google.rpc.BadRequest",
    ]);
    const decoded = fromBinary(StatusSchema, toBinary(StatusSchema, status));
    expect(equals(ErrorInfoSchema, anyUnpack(decoded.details[0], ErrorInfoSchema)!, info)).toBe(true);
    expect(equals(BadRequestSchema, anyUnpack(decoded.details[1], BadRequestSchema)!, badRequest)).toBe(true);
  });

  it("ErrorInfo.reason is the ErrorReason name without its prefix, which is the generated enum's key", () => {
    for (const value of ErrorReasonSchema.values) {
      expect(value.name.startsWith("ERROR_REASON_"), value.name).toBe(true);
      expect(ErrorReason[value.number as ErrorReason]).toBe(value.name.replace(/^ERROR_REASON_/, ""));
    }
    expect(ErrorReason[ErrorReason.FEATURE_NOT_IN_PLAN]).toBe("FEATURE_NOT_IN_PLAN");
  });

  it("ServerInfo, SubscribeRequest (Durations as JSON strings), ListMessagesRequest, JoinGroupResponse", () => {
    const info = create(ServerInfoSchema, {
      serverVersion: "narrowcast-reference/0.2.0",
      groupTypeLimits: [
        { type: GroupType.WORK, maxMembers: 2000, memberEventsMaxMembers: 0 },
        { type: GroupType.COMMUNITY, maxMembers: 100_000, memberEventsMaxMembers: 1000 },
      ],
      sendRatePerGroup: 40,
      sendRatePerGroupBound: 80,
      recallWindow: durationFromMs(120_000),
      editWindow: durationFromMs(86_400_000),
      idempotencyWindow: durationFromMs(86_400_000),
      eventRetention: durationFromMs(604_800_000),
      messageRetention: durationFromMs(1000),
    });
    expect(fieldsSetByNone(ServerInfoSchema, [info])).toEqual([]);
    expectRoundTrips(ServerInfoSchema, info);
    expect(toJson(ServerInfoSchema, info)).toMatchObject({ recallWindow: "120s", eventRetention: "604800s", sendRatePerGroup: 40 });

    const subscribe = create(SubscribeRequestSchema, { cursor: "c6", heartbeatInterval: durationFromMs(15_000) });
    expect(fieldsSetByNone(SubscribeRequestSchema, [subscribe])).toEqual([]);
    expectRoundTrips(SubscribeRequestSchema, subscribe);
    expect(toJson(SubscribeRequestSchema, subscribe)).toEqual({ cursor: "c6", heartbeatInterval: "15s" });

    const list = create(ListMessagesRequestSchema, { groupId: "g", pageSize: 20, pageToken: "t", beforeSeq: 9n, afterSeq: 3n });
    expect(fieldsSetByNone(ListMessagesRequestSchema, [list])).toEqual([]);
    expectRoundTrips(ListMessagesRequestSchema, list);

    const joined = [
      create(JoinGroupResponseSchema, { result: { case: "member", value: { userId: "erin", role: MemberRole.MEMBER, joinTime: time } } }),
      create(JoinGroupResponseSchema, {
        result: { case: "joinRequest", value: { groupId: "pub", userId: "erin", message: "hi", createTime: time } },
      }),
    ];
    expect(fieldsSetByNone(JoinGroupResponseSchema, joined)).toEqual([]);
    for (const response of joined) expectRoundTrips(JoinGroupResponseSchema, response);
  });

  it("admin App (narrowcast.admin.v1)", () => {
    const app = create(AppSchema, {
      appId: "app_1",
      name: "Acme",
      plan: Plan.ULTIMATE,
      secret: "c2VjcmV0",
      createTime: time,
      previousSecretExpireTime: time,
    });
    expect(AppSchema.typeName).toBe("narrowcast.admin.v1.App");
    expect(fieldsSetByNone(AppSchema, [app])).toEqual([]);
    expectRoundTrips(AppSchema, app);
    expect(toJson(AppSchema, app)).toMatchObject({ plan: "PLAN_ULTIMATE" });
  });

  it("SendMessageRequest: ordinary, targeted, single-receiver form", () => {
    const requests = [
      create(SendMessageRequestSchema, {
        groupId: "grp.work-1",
        elements: allElements,
        mentionedUserIds: ["bob"],
        mentionAll: true,
        priority: MessagePriority.HIGH,
        onlineOnly: true,
        excludeFromUnread: true,
        excludeFromLastMessage: true,
        clientMessageId: "c-1",
        customData: new Uint8Array([9]),
        offlinePushInfo: { title: "t", description: "d", extension: "e" },
      }),
      create(SendMessageRequestSchema, {
        groupId: "grp.work-1",
        elements: [allElements[0]],
        receiverIds: ["bob", "carol"],
        countAsUnreadForReceivers: true,
        replyToMessageId: "m-40",
        requestReadReceipts: true,
      }),
      // The vendor SDKs' single-receiver form is a list of one (TGT-2).
      create(SendMessageRequestSchema, { groupId: "grp.work-1", elements: [allElements[0]], receiverIds: ["bob"] }),
    ];
    expect(fieldsSetByNone(SendMessageRequestSchema, requests)).toEqual([]);
    for (const request of requests) expectRoundTrips(SendMessageRequestSchema, request);
  });

  it("the MSG-4 size example of the spec's notes holds", () => {
    // "12,279 characters is the largest accepted single-text message and 12,280 is rejected."
    expect(section(spec, /Non-normative notes/)?.replace(/\s+/g, " ")).toContain("12,279 characters is the largest accepted");
    const size = (n: number) =>
      toBinary(MessageSchema, create(MessageSchema, { elements: [{ element: { case: "text", value: { text: "a".repeat(n) } } }] })).length;
    expect(size(12_279)).toBe(12_288);
    expect(size(12_280)).toBe(12_289);
  });
});

describe("numbers (spec section 3.2)", () => {
  it("no field of either package is unsigned or fixed-width (AIP-141)", () => {
    const forbidden = [ScalarType.UINT32, ScalarType.UINT64, ScalarType.FIXED32, ScalarType.FIXED64, ScalarType.SFIXED32, ScalarType.SFIXED64];
    const narrowcast = messageSchemas.filter((schema) => schema.typeName.startsWith("narrowcast."));
    expect(narrowcast.length).toBeGreaterThan(50);
    const bad = narrowcast.flatMap((schema) =>
      schema.fields
        .filter((field) => (field.fieldKind === "scalar" || field.fieldKind === "list") && field.scalar !== undefined && forbidden.includes(field.scalar))
        .map((field) => `${schema.typeName}.${field.name}`),
    );
    expect(bad).toEqual([]);
  });
});

describe("docs/spec.md agrees with the generated code", () => {
  it("the generated barrels expose the six services of the two packages", () => {
    expect(services.map((s) => s.typeName).sort()).toEqual([
      "narrowcast.admin.v1.AdminService",
      "narrowcast.v1.ConversationService",
      "narrowcast.v1.EventService",
      "narrowcast.v1.GroupService",
      "narrowcast.v1.MessageService",
      "narrowcast.v1.ServerService",
    ]);
    // The user barrel carries no admin types, the admin barrel no user services.
    expect(Object.keys(gen).some((name) => name === "AdminService" || name === "AppSchema")).toBe(false);
  });

  it("the RPC table names every generated RPC, and only those, with matching kind and idempotency", () => {
    const rows = rpcTable(spec);
    // Each row's RPC exists as Service.method.<localName> on the generated GenService.
    for (const row of rows) {
      const service = services.find((s) => s.name === row.service);
      const method = service?.methods.find((m) => m.name === row.method);
      expect(method, row.rpc).toBeDefined();
      expect((service!.method as Record<string, unknown>)[method!.localName]).toBe(method);
    }
    expect(rows.length).toBe(services.reduce((n, s) => n + s.methods.length, 0));
    expect(checkRpcTable(spec, services, ErrorReasonSchema)).toEqual([]);
  });

  it("the error table gives every ErrorReason (except UNSPECIFIED) a Connect code and rules", () => {
    const rows = errorTable(spec);
    for (const value of ErrorReasonSchema.values) {
      if (value.number === 0) continue;
      const row = rows.find((r) => r.reason === value.name.replace(/^ERROR_REASON_/, ""));
      expect(row, value.name).toBeDefined();
      expect(row!.codes.every((code) => codeNames.includes(code)), `${value.name}: ${row!.codes}`).toBe(true);
    }
    expect(checkErrorTable(spec, ErrorReasonSchema, codeNames)).toEqual([]);
  });

  it("every rule ID is defined once, cited rules exist, and no stable ID has gone", () => {
    const ids = ruleDefinitions(spec).map((rule) => rule.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(checkRuleIds(spec, stableRuleIds)).toEqual([]);
  });

  it("the .proto files of both packages cite only rules the spec defines", () => {
    const defined = new Set(ruleDefinitions(spec).map((rule) => rule.id));
    for (const path of ["../proto/narrowcast/v1/", "../proto/narrowcast/admin/v1/"]) {
      const dir = new URL(path, import.meta.url);
      const files = readdirSync(dir).filter((name) => name.endsWith(".proto"));
      expect(files.length, path).toBeGreaterThan(0);
      for (const name of files) {
        expect(checkCitations(readFileSync(new URL(name, dir), "utf8"), defined, name)).toEqual([]);
      }
    }
  });

  it("the rule parser keeps nested lists and indented paragraphs inside their rule", () => {
    const msg12 = ruleDefinitions(spec).find((rule) => rule.id === "MSG-12");
    expect(msg12?.text).toContain("PAGE_TOKEN_INVALID"); // in the paragraph after MSG-12's list
    const err5 = ruleDefinitions(spec).find((rule) => rule.id === "ERR-5");
    expect(err5?.text).toContain("RetryInfo");
  });

  it("the group-type table has a row for every GroupType", () => {
    const table = section(spec, /Groups/) ?? "";
    for (const value of GroupTypeSchema.values) {
      if (value.number === 0) continue;
      expect(table, value.name).toMatch(new RegExp(`^\\| ${value.name.replace(/^GROUP_TYPE_/, "")} \\|`, "m"));
    }
  });

  it("read-only RPCs (Get*, List*) are NO_SIDE_EFFECTS, and no other RPC is (WIRE-4)", () => {
    let readOnly = 0;
    for (const service of services) {
      for (const method of service.methods) {
        const isReadOnly = /^(Get|List)[A-Z]/.test(method.name);
        if (isReadOnly) readOnly++;
        const expected = isReadOnly ? MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS : MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
        expect(method.idempotency, `${service.name}.${method.name}`).toBe(expected);
      }
    }
    expect(readOnly).toBeGreaterThanOrEqual(8);
  });
});

describe("the spec checks detect a broken spec", () => {
  /** Replaces text that must exist, so that a mutation never silently does nothing. */
  function mutate(from: string | RegExp, to: string): string {
    const changed = spec.replace(from, to);
    expect(changed, `mutation of ${String(from)} changed nothing`).not.toBe(spec);
    return changed;
  }

  it("a missing RPC row", () => {
    const broken = mutate(/^\| MessageService\.GetMessage \|.*\n/m, "");
    expect(checkRpcTable(broken, services, ErrorReasonSchema)).toContain("RPC table has no row for MessageService.GetMessage");
  });

  it("a row for an RPC that does not exist", () => {
    const broken = mutate(/^(\| MessageService\.GetMessage \|)/m, "| MessageService.ForwardMessage | unary | — | MSG-1 | TOKEN_MISSING |\n$1");
    expect(checkRpcTable(broken, services, ErrorReasonSchema)).toContain(
      "RPC table lists MessageService.ForwardMessage, which the generated services do not have",
    );
  });

  it("a wrong idempotency, an unknown error or a missing auth error in an RPC row", () => {
    const broken = mutate("| GroupService.ListGroups | unary | NO_SIDE_EFFECTS | AUTH-1, AUTH-6, PAG-1 to PAG-3 | TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED, FIELD_INVALID, PAGE_TOKEN_INVALID |",
      "| GroupService.ListGroups | unary | — | AUTH-1, AUTH-6, PAG-1 to PAG-3 | TOKEN_INVALID, TOKEN_EXPIRED, NO_SUCH_REASON |");
    const problems = checkRpcTable(broken, services, ErrorReasonSchema);
    expect(problems).toContain('GroupService.ListGroups: idempotency "—", generated NO_SIDE_EFFECTS');
    expect(problems).toContain('GroupService.ListGroups: "NO_SUCH_REASON" is not an ErrorReason');
    expect(problems).toContain("GroupService.ListGroups: errors lack TOKEN_MISSING");
  });

  it("an unauthenticated RPC that lists an authentication error, or an admin RPC without a group error", () => {
    const broken = mutate("| ServerService.GetServerInfo | unary | NO_SIDE_EFFECTS | AUTH-7, SRV-1, SRV-2 | — |",
      "| ServerService.GetServerInfo | unary | NO_SIDE_EFFECTS | AUTH-7, SRV-1, SRV-2 | TOKEN_MISSING |");
    expect(checkRpcTable(broken, services, ErrorReasonSchema)).toContain(
      "ServerService.GetServerInfo: lists TOKEN_MISSING, but needs no authentication (AUTH-7)",
    );
    const noGroupError = mutate(/^(\| AdminService\.GetGroup \|.*), GROUP_NOT_FOUND \|$/m, "$1 |");
    expect(checkRpcTable(noGroupError, services, ErrorReasonSchema)).toContain("AdminService.GetGroup: errors lack GROUP_NOT_FOUND");
  });

  it("a missing error row or a code that is not a Connect code", () => {
    expect(checkErrorTable(mutate(/^\| CURSOR_INVALID \|.*\n/m, ""), ErrorReasonSchema, codeNames)).toContain(
      "error table has no row for CURSOR_INVALID",
    );
    expect(checkErrorTable(mutate("| TOKEN_MISSING | Unauthenticated |", "| TOKEN_MISSING | Unauthorized |"), ErrorReasonSchema, codeNames)).toContain(
      'TOKEN_MISSING: "Unauthorized" is not a Connect code name',
    );
  });

  it("a rule whose error disagrees with the error table", () => {
    const broken = mutate("rejected with PermissionDenied FEATURE_NOT_IN_PLAN", "rejected with FailedPrecondition FEATURE_NOT_IN_PLAN");
    expect(checkErrorTable(broken, ErrorReasonSchema, codeNames)).toContain(
      "TGT-9 gives FEATURE_NOT_IN_PLAN code FailedPrecondition, the error table PermissionDenied",
    );
    const expired = mutate("rejected with OutOfRange CURSOR_EXPIRED", "rejected with InvalidArgument CURSOR_EXPIRED");
    expect(checkErrorTable(expired, ErrorReasonSchema, codeNames)).toContain(
      "EVT-10 gives CURSOR_EXPIRED code InvalidArgument, the error table OutOfRange",
    );
  });

  it("a duplicated, a removed or an undefined rule ID", () => {
    expect(checkRuleIds(mutate("- **TGT-12**", "- **TGT-11**"), stableRuleIds)).toEqual(
      expect.arrayContaining(["rule TGT-11 is defined more than once", "stable rule TGT-12 is no longer defined"]),
    );
    expect(checkRuleIds(mutate("(UNR-7)", "(UNR-99)"), stableRuleIds)).toContain("docs/spec.md cites undefined rule UNR-99");
  });
});
