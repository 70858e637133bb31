// Wire protocols (WIRE): every protocol and HTTP version, the Connect JSON codec, Connect GET for
// read-only RPCs, and where error details travel.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, ErrorReason, MessageSchema } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { checkError, expectError } from "../errors.js";
import { isMessage, receivedMessage } from "../events.js";
import type { CaseContext, UserClients, UserHandle } from "../fixtures.js";
import { textElements } from "../fixtures.js";
import { Subscription } from "../subscription.js";
import { protocolSupports, protocols, type HttpVersion, type Protocol } from "../transport.js";
import { seqsOf } from "./util.js";

/** The user's clients over another protocol, HTTP version or codec. */
function userClientsOver(ctx: CaseContext, user: UserHandle, protocol: Protocol, httpVersion: HttpVersion, variant: { useBinaryFormat?: boolean; useHttpGet?: boolean } = {}): UserClients {
  const transport = ctx.openTransport(protocol, httpVersion, variant);
  return ctx.clientsWithTransport(transport, () => user.token());
}

function subscribeOver(ctx: CaseContext, clients: UserClients, label: string): Subscription {
  const sub = Subscription.open(clients.events, {}, label, ctx.wait);
  ctx.defer(() => sub.close());
  return sub;
}

/** A raw HTTP/1.1 request to the server (Node's fetch), for checks below the client library. */
async function rawFetch(ctx: CaseContext, path: string, init: RequestInit): Promise<{ status: number; contentType: string; body: string }> {
  const res = await fetch(`${ctx.baseUrl}${path}`, init);
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body: await res.text() };
}

export const wireCases = [
  defineCase({
    id: "wire-cross-protocol",
    rules: ["WIRE-1", "WIRE-2"],
    requirement: "A message sent over one protocol reaches subscriptions over every protocol identically, and errors are identical over every protocol.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = w.user("bob");
      const available = protocols.filter((p) => protocolSupports(p, ctx.httpVersion));
      const subs = available.map((p) => subscribeOver(ctx, userClientsOver(ctx, bob, p, ctx.httpVersion), `bob's ${p} subscription`));
      for (const sub of subs) await sub.ready();
      const sent = await w.user("alice").send(w.groupId, { text: "over the wire", customData: new Uint8Array([0, 255]), receiverIds: ["bob"] });
      const expected = Buffer.from(toBinary(MessageSchema, sent)).toString("hex");
      for (const sub of subs) {
        const got = receivedMessage(await sub.waitFor("the message", isMessage(sent.messageId)))!;
        expectEqual(Buffer.from(toBinary(MessageSchema, got)).toString("hex"), expected, `${sub.label}: the delivered message (binary) vs. the SendMessage response`);
      }
      for (const p of available) {
        const clients = userClientsOver(ctx, bob, p, ctx.httpVersion);
        await expectError(clients.messages.getMessage({ groupId: w.groupId, messageId: "missing" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { what: `GetMessage over ${p}` });
        await expectError(clients.messages.sendMessage({ groupId: w.groupId, elements: [] }), Code.InvalidArgument, ErrorReason.EMPTY_MESSAGE, { field: "elements", what: `SendMessage over ${p}` });
      }
    },
  }),
  defineCase({
    id: "wire-http-versions",
    rules: ["WIRE-2"],
    requirement: "The protocol works over HTTP/2 cleartext and, for Connect and gRPC-Web, over HTTP/1.1 — unary RPCs and the Subscribe stream alike.",
    async run(ctx) {
      const w = await ctx.world();
      const versions: HttpVersion[] = ctx.protocol === "grpc" ? ["2"] : ["2", "1.1"];
      for (const version of versions) {
        const bob = userClientsOver(ctx, w.user("bob"), ctx.protocol, version);
        const sub = subscribeOver(ctx, bob, `bob's ${ctx.protocol} subscription over HTTP/${version}`);
        await sub.ready();
        const sent = await w.user("alice").send(w.groupId, `over HTTP/${version}`);
        await sub.waitFor("the message", isMessage(sent.messageId));
        const page = await bob.messages.listMessages({ groupId: w.groupId });
        check(page.messages.some((m) => m.messageId === sent.messageId), `ListMessages over ${ctx.protocol} HTTP/${version} lacks the message`, sent.messageId, JSON.stringify(seqsOf(page.messages)));
      }
    },
  }),
  defineCase({
    id: "wire-connect-json",
    rules: ["WIRE-3"],
    requirement: "Connect is served with the JSON codec too: unary RPCs, errors with details, and the Subscribe stream.",
    async run(ctx) {
      const w = await ctx.world();
      const json = userClientsOver(ctx, w.user("bob"), "connect", ctx.httpVersion, { useBinaryFormat: false });
      const sub = subscribeOver(ctx, json, "bob's Connect JSON subscription");
      await sub.ready();
      const sent = await json.messages.sendMessage({ groupId: w.groupId, elements: textElements("json"), customData: new Uint8Array([1, 2, 250]) });
      expectEqual(Number(sent.message?.seq), 1, "seq over JSON");
      const got = receivedMessage(await sub.waitFor("the message", isMessage(sent.message!.messageId)));
      expectEqual(Array.from(got?.customData ?? []), [1, 2, 250], "custom_data over JSON");
      await expectError(json.messages.listMessages({ groupId: w.groupId, pageSize: -1 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "page_size", what: "ListMessages over Connect JSON" });
      const raw = await rawFetch(ctx, "/narrowcast.v1.MessageService/ListMessages", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await w.user("bob").token()}` },
        body: JSON.stringify({ groupId: w.groupId }),
      });
      expectEqual(raw.status, 200, "HTTP status of a raw Connect JSON ListMessages");
      const body = JSON.parse(raw.body) as { messages?: { seq?: unknown }[] };
      expectEqual(body.messages?.map((m) => m.seq), ["1"], "seq values in the raw JSON body (64-bit integers are JSON strings)");
    },
  }),
  defineCase({
    id: "wire-connect-get",
    rules: ["WIRE-4", "AUTH-1"],
    requirement: "Read-only RPCs (Get*/List*) are served as Connect GET requests, with authentication exactly as for POST.",
    async run(ctx) {
      const w = await ctx.world();
      const m = await w.user("alice").send(w.groupId, "cacheable");
      const get = userClientsOver(ctx, w.user("bob"), "connect", ctx.httpVersion, { useHttpGet: true });
      expectEqual((await get.messages.getMessage({ groupId: w.groupId, messageId: m.messageId })).message?.messageId, m.messageId, "GetMessage over GET");
      expectEqual(seqsOf((await get.messages.listMessages({ groupId: w.groupId })).messages), [1], "ListMessages over GET");
      expectEqual((await get.groups.getGroup({ groupId: w.groupId })).group?.groupId, w.groupId, "GetGroup over GET");
      expectEqual((await get.groups.listMembers({ groupId: w.groupId })).members.length, 3, "ListMembers over GET");
      expectEqual((await get.conversations.listConversations({})).conversations.length, 1, "ListConversations over GET");
      expectEqual(Number((await get.conversations.getConversation({ groupId: w.groupId })).conversation?.unreadCount), 1, "GetConversation over GET");
      const query = `connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ groupId: w.groupId }))}`;
      const path = `/narrowcast.v1.MessageService/ListMessages?${query}`;
      const ok = await rawFetch(ctx, path, { method: "GET", headers: { authorization: `Bearer ${await w.user("bob").token()}` } });
      expectEqual(ok.status, 200, "HTTP status of a raw Connect GET ListMessages");
      const anonymous = await rawFetch(ctx, path, { method: "GET" });
      const error = JSON.parse(anonymous.body || "{}") as { code?: string; details?: { type?: string; value?: string }[] };
      expectEqual([anonymous.status, error.code], [401, "unauthenticated"], "[HTTP status, code] of a Connect GET without a token");
      const detail = error.details?.find((d) => d.type === "google.rpc.ErrorInfo");
      check(detail?.value, "the GET error has no google.rpc.ErrorInfo", "a details entry", anonymous.body);
      const info = fromBinary(ErrorInfoSchema, Buffer.from(detail.value, "base64"));
      expectEqual([info.domain, info.reason], ["narrowcast", "TOKEN_MISSING"], "[domain, reason] of a Connect GET without a token");
    },
  }),
  defineCase({
    id: "wire-error-detail-slot",
    rules: ["WIRE-5", "ERR-1"],
    requirement:
      "The google.rpc details (ErrorInfo, BadRequest) travel in the protocol's standard error-detail slot: the Connect details array (unary body, end-of-stream message) and the gRPC / gRPC-Web status details.",
    async run(ctx) {
      const w = await ctx.world();
      const raw = await rawFetch(ctx, "/narrowcast.v1.MessageService/SendMessage", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await w.user("alice").token()}` },
        body: JSON.stringify({ groupId: w.groupId, elements: [], receiverIds: ["bob"] }),
      });
      const error = JSON.parse(raw.body || "{}") as { code?: string; details?: { type?: string; value?: string }[] };
      expectEqual([raw.status, error.code], [400, "invalid_argument"], "[HTTP status, code] of a raw Connect JSON error");
      const entries = (error.details ?? []).filter((d) => d.type === "google.rpc.ErrorInfo");
      expectEqual(entries.length, 1, "google.rpc.ErrorInfo entries in the Connect error body");
      const info = fromBinary(ErrorInfoSchema, Buffer.from(entries[0]!.value ?? "", "base64"));
      expectEqual([info.domain, info.reason, info.metadata.field], ["narrowcast", "EMPTY_MESSAGE", "elements"], "[domain, reason, metadata.field] decoded from the Connect error body");
      const bad = (error.details ?? []).filter((d) => d.type === "google.rpc.BadRequest");
      expectEqual(bad.length, 1, "google.rpc.BadRequest entries in the Connect error body");
      const violations = fromBinary(BadRequestSchema, Buffer.from(bad[0]!.value ?? "", "base64")).fieldViolations;
      expectEqual(violations.map((v) => [v.field, v.reason]), [["elements", "EMPTY_MESSAGE"]], "[field, reason] of the BadRequest violations in the Connect error body");
      // Over the suite's protocol the client reads the detail from that protocol's slot.
      await expectError(w.user("alice").send(w.groupId, { receiverIds: ["bob", "bob"] }), Code.InvalidArgument, ErrorReason.DUPLICATE_RECEIVER, {
        ids: ["bob"],
        what: `SendMessage over ${ctx.protocol}`,
      });
      const sub = w.user("bob").openSubscription({ cursor: "garbage" }, "subscription with a bad cursor");
      checkError(await sub.error(), Code.InvalidArgument, ErrorReason.CURSOR_INVALID, { field: "cursor" }, `Subscribe over ${ctx.protocol} (error at the end of a stream)`);
    },
  }),
];

