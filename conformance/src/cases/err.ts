// Errors (ERR): every rejection carries one typed ErrorDetail; bad input never crashes or half-applies.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, MemberRole, MessagePriority } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { describeObserved, expectError, observe } from "../errors.js";
import { textElements } from "../fixtures.js";
import { expectSeqs } from "./util.js";

export const errCases = [
  defineCase({
    id: "err-detail-on-every-error",
    rules: ["ERR-1"],
    requirement: "Every error carries exactly one narrowcast.v1.ErrorDetail with a non-UNSPECIFIED reason.",
    async run(ctx) {
      const w = await ctx.world();
      const failures: (() => Promise<unknown>)[] = [
        () => w.user("alice").send(w.groupId, { elements: [] }),
        () => w.user("erin").send(w.groupId, "x"),
        () => w.user("alice").messages.getMessage({ groupId: w.groupId, messageId: "nope" }),
        () => w.user("alice").groups.getGroup({ groupId: "nope" }),
        () => ctx.clientsWithToken(undefined).groups.listGroups({}),
        () => ctx.admin.issueUserToken({ appId: w.app.appId, userId: "ghost" }),
        () => w.user("alice").groups.leaveGroup({ groupId: w.groupId }),
      ];
      for (const call of failures) {
        const outcome = await call().then(
          () => undefined,
          (err: unknown) => observe(err),
        );
        check(outcome, "a call that must fail succeeded", "an error", "success");
        const reasons = outcome.details.map((d) => d.reason);
        check(reasons.length === 1 && reasons[0] !== ErrorReason.UNSPECIFIED, "an error lacks exactly one ErrorDetail with a reason", "exactly one ErrorDetail, reason set", describeObserved(outcome));
      }
    },
  }),
  defineCase({
    id: "err-field-invalid",
    rules: ["ERR-3"],
    requirement: "Empty required IDs, out-of-range values and unknown enum values are InvalidArgument FIELD_INVALID naming the field.",
    async run(ctx) {
      const w = await ctx.world();
      const alice = w.user("alice");
      const checks: [string, () => Promise<unknown>, string][] = [
        ["SendMessage without group_id", () => alice.messages.sendMessage({ groupId: "", elements: textElements("x") }), "group_id"],
        ["GetConversation without group_id", () => alice.conversations.getConversation({ groupId: "" }), "group_id"],
        ["ListMessages without group_id", () => alice.messages.listMessages({ groupId: "" }), "group_id"],
        ["MarkConversationRead without group_id", () => alice.conversations.markConversationRead({ groupId: "" }), "group_id"],
        ["SetMemberRole with an unknown role", () => alice.groups.setMemberRole({ groupId: w.groupId, userId: "bob", role: 9 as MemberRole }), "role"],
        ["SetMemberRole with UNSPECIFIED role", () => alice.groups.setMemberRole({ groupId: w.groupId, userId: "bob", role: MemberRole.UNSPECIFIED }), "role"],
        ["CreateGroup with a bad group ID", () => alice.groups.createGroup({ type: GroupType.WORK, groupId: "bad id" }), "group_id"],
      ];
      for (const [what, call, field] of checks) await expectError(call(), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field, what });
      expectSeqs(await alice.history(w.groupId), [], "history after rejected sends");
    },
  }),
  defineCase({
    id: "err-empty-message-id",
    rules: ["ERR-3", "MSG-14"],
    requirement: "GetMessage and RecallMessage with an empty message_id are InvalidArgument FIELD_INVALID (field message_id).",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, "x");
      await expectError(w.user("bob").messages.getMessage({ groupId: w.groupId, messageId: "" }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "message_id",
        what: "GetMessage with an empty message_id",
      });
      await expectError(w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: "" }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "message_id",
        what: "RecallMessage with an empty message_id",
      });
    },
  }),
  defineCase({
    id: "err-unknown-priority",
    rules: ["ERR-3", "MSG-7", "MSG-15"],
    requirement: "A send with a priority value the enum does not define is InvalidArgument FIELD_INVALID (field priority) and stores nothing.",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("alice").send(w.groupId, { priority: 9 as MessagePriority }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "priority",
        what: "SendMessage with priority 9",
      });
      expectSeqs(await w.user("alice").history(w.groupId), [], "history after the rejected send");
    },
  }),
  defineCase({
    id: "err-bad-input-is-typed",
    rules: ["ERR-2"],
    requirement: "Odd input never yields Internal, Unknown or a hang; a rejected request changes nothing.",
    async run(ctx) {
      const w = await ctx.world();
      const alice = w.user("alice");
      const odd: [string, () => Promise<unknown>][] = [
        ["a huge group ID", () => alice.send("g".repeat(10_000), "x")],
        ["control characters in IDs", () => alice.messages.getMessage({ groupId: "g1\u0000", messageId: "\u0001" })],
        ["a huge receiver list", () => alice.send(w.groupId, { receiverIds: Array.from({ length: 5000 }, (_, i) => `r${i}`) })],
        ["a huge mention list", () => alice.send(w.groupId, { mentionedUserIds: Array.from({ length: 5000 }, (_, i) => `m${i}`) })],
        ["10,000 elements", () => alice.send(w.groupId, { elements: Array.from({ length: 10_000 }, () => textElements("x")[0]!) })],
        ["a read_seq far beyond the latest", () => alice.conversations.markConversationRead({ groupId: w.groupId, readSeq: 18_446_744_073_709_551_615n })],
        ["a huge before_seq", () => alice.messages.listMessages({ groupId: w.groupId, beforeSeq: 18_446_744_073_709_551_615n })],
        ["an unknown join-request decision", () => alice.groups.decideJoinRequest({ groupId: w.groupId, userId: "ghost", approve: true })],
      ];
      for (const [what, call] of odd) {
        const outcome = await call().then(
          () => undefined,
          (err: unknown) => observe(err),
        );
        if (outcome) check(outcome.code !== Code.Internal && outcome.code !== Code.Unknown, `${what} yielded an untyped error`, "a typed error", describeObserved(outcome));
      }
      expectSeqs(await alice.history(w.groupId), [], "history after odd sends");
      const c = await alice.conversation(w.groupId);
      expectEqual(Number(c.readSeq), 0, "alice's read_seq after marking beyond the latest of an empty group (clamped)");
    },
  }),
  defineCase({
    id: "err-malformed-request-body",
    rules: ["ERR-4", "ERR-2"],
    requirement:
      "A body that is not a valid encoding of the request (binary or JSON), or an unknown procedure, gets the protocol's standard error, never Internal, and the server keeps serving.",
    async run(ctx) {
      const w = await ctx.world();
      const alice = w.user("alice");
      const token = await alice.token();
      // Connect unary over plain HTTP: the framing is the same for every server, whatever ctx.protocol.
      const post = (path: string, contentType: string, body: BodyInit) =>
        fetch(new URL(path, ctx.baseUrl), {
          method: "POST",
          headers: { "content-type": contentType, "connect-protocol-version": "1", authorization: `Bearer ${token}` },
          body,
        });
      const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12]);
      const cases: [string, Promise<Response>, number[], string[]][] = [
        ["binary garbage to SendMessage", post("/narrowcast.v1.MessageService/SendMessage", "application/proto", garbage), [400], ["invalid_argument"]],
        ["malformed JSON to SendMessage", post("/narrowcast.v1.MessageService/SendMessage", "application/json", "{\"groupId\": "), [400], ["invalid_argument"]],
        ["a JSON field of the wrong type", post("/narrowcast.v1.MessageService/SendMessage", "application/json", "{\"groupId\": 42}"), [400], ["invalid_argument"]],
        ["an unknown procedure", post("/narrowcast.v1.MessageService/NoSuchMethod", "application/json", "{}"), [404], ["unimplemented", "not_found", ""]],
      ];
      const settled = await Promise.all(cases.map(([, response]) => response.then((r) => r, (err: unknown) => err as Error)));
      for (let i = 0; i < cases.length; i++) {
        const [what, , statuses, codes] = cases[i];
        const res = settled[i];
        check(!(res instanceof Error), `${what}: the connection failed`, "an HTTP response", String(res));
        const response = res as Response;
        const text = await response.text();
        let code = "";
        try {
          code = (JSON.parse(text) as { code?: string }).code ?? "";
        } catch {
          // A 404 for an unknown procedure may carry any body.
        }
        check(
          statuses.includes(response.status) && codes.includes(code) && code !== "internal" && code !== "unknown",
          `${what}: wrong error`,
          `HTTP ${statuses.join(" or ")} with code ${codes.filter(Boolean).join(" or ") || "(any)"}`,
          `HTTP ${response.status} ${text.slice(0, 200)}`,
        );
      }
      // Still serving, and nothing was stored.
      const sent = await alice.send(w.groupId, "still here");
      expectEqual(sent.seq, 1n, "seq of the first accepted message after the malformed requests");
    },
  }),
];
