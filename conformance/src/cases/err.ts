// Errors (ERR): every rejection carries one typed ErrorDetail; bad input never crashes or half-applies.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, MemberRole, MessagePriority } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { ERROR_DOMAIN, checkError, describeObserved, detailProblems, expectError, observe, reasonOf } from "../errors.js";
import { textElements } from "../fixtures.js";
import { expectSeqs } from "./util.js";

export const errCases = [
  defineCase({
    id: "err-detail-on-every-error",
    rules: ["ERR-1", "ERR-5"],
    requirement:
      "Every error carries exactly one google.rpc.ErrorInfo of domain \"narrowcast\" with a reason name; errors naming a field also carry a google.rpc.BadRequest violation for it.",
    async run(ctx) {
      const w = await ctx.world();
      const failures: [string, () => Promise<unknown>][] = [
        ["a send without elements", () => w.user("alice").send(w.groupId, { elements: [] })],
        ["a send by a non-member", () => w.user("erin").send(w.groupId, "x")],
        ["GetMessage of an unknown message", () => w.user("alice").messages.getMessage({ groupId: w.groupId, messageId: "nope" })],
        ["GetGroup of an unknown group", () => w.user("alice").groups.getGroup({ groupId: "nope" })],
        ["a call without a token", () => ctx.clientsWithToken(undefined).groups.listGroups({})],
        ["IssueUserToken of an unknown user", () => ctx.admin.issueUserToken({ appId: w.app.appId, userId: "ghost" })],
        ["LeaveGroup by the owner", () => w.user("alice").groups.leaveGroup({ groupId: w.groupId })],
        ["a send to a non-member receiver", () => w.user("alice").send(w.groupId, { receiverIds: ["erin"] })],
        ["ListGroups with a garbage page token", () => w.user("alice").groups.listGroups({ pageToken: "garbage" })],
        ["ListMembers with a negative page size", () => w.user("alice").groups.listMembers({ groupId: w.groupId, pageSize: -1 })],
        ["a call with a malformed token", () => ctx.clientsWithToken("wrong").groups.createGroup({ type: GroupType.WORK })],
      ];
      for (const [what, call] of failures) {
        const outcome = await call().then(
          () => undefined,
          (err: unknown) => observe(err),
        );
        check(outcome, `${what} succeeded but must fail`, "an error", "success");
        const problems = detailProblems(outcome);
        check(problems.length === 0, `${what}: the error's details are malformed: ${problems.join("; ")}`, `one ErrorInfo of domain "${ERROR_DOMAIN}" (+ BadRequest for a field)`, describeObserved(outcome));
      }
    },
  }),
  defineCase({
    id: "err-bad-request-for-fields",
    rules: ["ERR-5", "ERR-3"],
    requirement:
      "An error about a request field has ErrorInfo metadata field = the field path and exactly one google.rpc.BadRequest violation naming the same field and reason, with a description.",
    async run(ctx) {
      const w = await ctx.world();
      const alice = w.user("alice");
      const cases: [string, () => Promise<unknown>, string, string][] = [
        ["an element without a kind at index 1", () => alice.send(w.groupId, { elements: [...textElements("ok"), {}] }), "INVALID_ELEMENT", "elements[1]"],
        ["51 receivers", () => alice.send(w.groupId, { receiverIds: Array.from({ length: 51 }, (_, i) => `r${i}`) }), "RECEIVER_LIST_TOO_LONG", "receiver_ids"],
        ["a bad group ID", () => alice.groups.createGroup({ type: GroupType.WORK, groupId: "bad id" }), "FIELD_INVALID", "group_id"],
        ["a negative page size", () => alice.conversations.listConversations({ pageSize: -5 }), "FIELD_INVALID", "page_size"],
        ["a garbage page token", () => alice.conversations.listConversations({ pageToken: "!!" }), "PAGE_TOKEN_INVALID", "page_token"],
      ];
      for (const [what, call, reason, field] of cases) {
        let observed;
        try {
          await call();
        } catch (err) {
          observed = observe(err);
        }
        check(observed, `${what} was accepted but must be rejected`, reason, "success");
        checkError(observed, Code.InvalidArgument, reason, { field }, what);
        const violations = observed.badRequests.flatMap((b) => b.fieldViolations);
        expectEqual(violations.map((v) => [v.field, v.reason]), [[field, reason]], `${what}: BadRequest field violations [field, reason]`);
        check(violations[0]!.description !== "", `${what}: the BadRequest violation has no description`, "the error message", '""');
      }
      // Where the spec requires no field, a server may still name one; then ERR-5 applies as well.
      await expectError(alice.messages.getMessage({ groupId: w.groupId, messageId: "nope" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { what: "GetMessage of an unknown message" });
      await expectError(w.user("erin").send(w.groupId, "x"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, { what: "a non-member's send" });
    },
  }),
  defineCase({
    id: "err-field-invalid",
    rules: ["ERR-3"],
    requirement: "Empty required IDs, out-of-range values and unknown or UNSPECIFIED enum values (in user and admin RPCs) are InvalidArgument FIELD_INVALID naming the field.",
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
        ["MarkConversationRead with a negative read_seq", () => alice.conversations.markConversationRead({ groupId: w.groupId, readSeq: -1n }), "read_seq"],
        ["ListMessages with a negative before_seq", () => alice.messages.listMessages({ groupId: w.groupId, beforeSeq: -1n }), "before_seq"],
        ["ListMessages with a negative after_seq", () => alice.messages.listMessages({ groupId: w.groupId, afterSeq: -3n }), "after_seq"],
        ["ListGroups with a negative page_size", () => alice.groups.listGroups({ pageSize: -1 }), "page_size"],
        ["AdminService.SetMemberRole with UNSPECIFIED role", () => ctx.admin.setMemberRole({ appId: w.app.appId, groupId: w.groupId, userId: "bob", role: MemberRole.UNSPECIFIED }), "role"],
        ["AdminService.CreateGroup with GROUP_TYPE_UNSPECIFIED", () => ctx.admin.createGroup({ appId: w.app.appId, type: GroupType.UNSPECIFIED, ownerId: "alice" }), "type"],
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
        ["a read_seq far beyond the latest", () => alice.conversations.markConversationRead({ groupId: w.groupId, readSeq: 9_223_372_036_854_775_807n })],
        ["a huge before_seq", () => alice.messages.listMessages({ groupId: w.groupId, beforeSeq: 9_223_372_036_854_775_807n })],
        ["a huge after_seq", () => alice.messages.listMessages({ groupId: w.groupId, afterSeq: 9_223_372_036_854_775_807n })],
        ["the smallest int64 read_seq", () => alice.conversations.markConversationRead({ groupId: w.groupId, readSeq: -9_223_372_036_854_775_808n })],
        ["a huge page size", () => alice.messages.listMessages({ groupId: w.groupId, pageSize: 2_147_483_647 })],
        ["an unknown join-request approval", () => alice.groups.approveJoinRequest({ groupId: w.groupId, userId: "ghost" })],
        ["an unknown join-request rejection", () => alice.groups.rejectJoinRequest({ groupId: w.groupId, userId: "ghost" })],
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
