// The wire below the generated clients (rules WIRE-2 to WIRE-5): the README's curl example as a
// Connect JSON POST over HTTP/1.1, Connect GET for read-only RPCs, the JSON codec, error details
// in the Connect error body, and Connect and gRPC-Web (streaming included) over HTTP/1.1.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, createClient, type Interceptor } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ConversationService,
  ErrorInfoSchema,
  ErrorReason,
  EventService,
  GroupService,
  GroupType,
  MessageService,
} from "@narrowcast/gen";
import { AppFixture, EventStream, TestServer, expectError, isMessage } from "./support.js";

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({ interceptors: [recordMethods] });
});
afterAll(async () => {
  await server?.close();
});

/** A Connect JSON POST with fetch (HTTP/1.1), like the README's curl example. */
async function postJson(path: string, token: string | undefined, body: unknown) {
  const res = await fetch(`${server.url}/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get("content-type"), json: (await res.json()) as any };
}

/**
 * The ErrorInfo of a Connect JSON error body (WIRE-5): reason and field, checking on the way that
 * a BadRequest comes with it exactly when a field is named.
 */
function detailOf(body: { details?: { type: string; value: string }[] }) {
  const details = body.details ?? [];
  const info = details.find((d) => d.type === "google.rpc.ErrorInfo");
  expect(info, `details: ${JSON.stringify(details.map((d) => d.type))}`).toBeDefined();
  const decoded = fromBinary(ErrorInfoSchema, Buffer.from(info!.value, "base64"));
  expect(decoded.domain).toBe("narrowcast");
  const field = decoded.metadata.field ?? "";
  const bad = details.filter((d) => d.type === "google.rpc.BadRequest");
  expect(bad.length).toBe(field ? 1 : 0);
  if (field) expect(fromBinary(BadRequestSchema, Buffer.from(bad[0].value, "base64")).fieldViolations[0]?.field).toBe(field);
  return { reason: decoded.reason, field };
}

/** HTTP methods of the requests the server handled, per RPC name (a server-side interceptor). */
const methodsSeen: string[] = [];
const recordMethods: Interceptor = (next) => (req) => {
  methodsSeen.push(`${req.requestMethod} ${req.method.name}`);
  return next(req);
};

describe("WIRE: plain HTTP", () => {
  it("the README's curl example: CreateApp as Connect JSON over HTTP/1.1", async () => {
    const res = await postJson("narrowcast.admin.v1.AdminService/CreateApp", server.adminKey, { name: "demo", plan: "PLAN_ULTIMATE" });
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/json/);
    expect(res.json.app).toMatchObject({ name: "demo", plan: "PLAN_ULTIMATE" });
    expect(res.json.app.appId).toMatch(/\S/);
    expect(res.json.app.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("WIRE-5: a Connect error body carries the ErrorInfo (wrong admin key, missing token)", async () => {
    const admin = await postJson("narrowcast.admin.v1.AdminService/CreateApp", "wrong", { name: "demo" });
    expect(admin.status).toBe(401);
    expect(admin.json.code).toBe("unauthenticated");
    expect(detailOf(admin.json).reason).toBe("ADMIN_KEY_INVALID");
    const user = await postJson("narrowcast.v1.GroupService/ListGroups", undefined, {});
    expect(user.status).toBe(401);
    expect(detailOf(user.json).reason).toBe("TOKEN_MISSING");
    // The old admin path is gone.
    const old = await fetch(`${server.url}/narrowcast.v1.AdminService/CreateApp`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(old.status).toBe(404);
  });

  it("AUTH-7: GetServerInfo as plain Connect JSON, without a token", async () => {
    const res = await postJson("narrowcast.v1.ServerService/GetServerInfo", undefined, {});
    expect(res.status).toBe(200);
    expect(res.json.serverInfo).toMatchObject({ sendRatePerGroup: 40, eventRetention: "604800s", recallWindow: "120s" });
  });

  it("WIRE-3: JSON uses the canonical mapping (seq as a string)", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice"] });
    const g = await app.group(GroupType.WORK, "alice");
    const res = await postJson("narrowcast.v1.MessageService/SendMessage", app.user("alice").token, {
      groupId: g,
      elements: [{ text: { text: "json" } }],
      customData: Buffer.from([1, 2]).toString("base64"),
    });
    expect(res.status).toBe(200);
    expect(res.json.message).toMatchObject({ seq: "1", groupId: g, senderId: "alice", customData: "AQI=" });
    const bad = await postJson("narrowcast.v1.MessageService/SendMessage", app.user("alice").token, { groupId: g, elements: [] });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe("invalid_argument");
    expect(detailOf(bad.json)).toEqual({ reason: "EMPTY_MESSAGE", field: "elements" });
  });

  it("WIRE-4: a read-only RPC as a Connect GET, authenticated like a POST", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice"] });
    const g = await app.group(GroupType.WORK, "alice", [], "get-me");
    const query = `connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ groupId: g }))}`;
    const url = `${server.url}/narrowcast.v1.GroupService/GetGroup?${query}`;
    const ok = await fetch(url, { headers: { Authorization: `Bearer ${app.user("alice").token}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).group).toMatchObject({ groupId: "get-me", type: "GROUP_TYPE_WORK", ownerId: "alice" });
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(detailOf((await anonymous.json()) as any).reason).toBe("TOKEN_MISSING");
  });

  for (const httpVersion of ["2", "1.1"] as const) {
    it(`WIRE-4: connect-es with useHttpGet sends Get/List RPCs as GET (HTTP/${httpVersion})`, async () => {
      const app = await AppFixture.create(server, "connect", { users: ["alice"] });
      const g = await app.group(GroupType.WORK, "alice");
      await app.user("alice").send(g, "hello");
      const recorded = server.transport("connect", { httpVersion, useHttpGet: true, token: app.user("alice").token });
      methodsSeen.length = 0;
      const messages = createClient(MessageService, recorded);
      const conversations = createClient(ConversationService, recorded);
      const groups = createClient(GroupService, recorded);
      expect((await messages.listMessages({ groupId: g })).messages.map((m) => m.seq)).toEqual([1n]);
      expect((await conversations.getConversation({ groupId: g })).conversation?.unreadCount).toBe(0);
      expect((await groups.listGroups({})).groups.map((x) => x.groupId)).toEqual([g]);
      await expectError(messages.getMessage({ groupId: g, messageId: "msg_nope" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
      await messages.sendMessage({ groupId: g, elements: [{ element: { case: "text", value: { text: "post" } } }] });
      expect(methodsSeen).toEqual(["GET ListMessages", "GET GetConversation", "GET ListGroups", "GET GetMessage", "POST SendMessage"]);
    });
  }

  for (const protocol of ["connect", "grpc-web"] as const) {
    it(`WIRE-2: ${protocol} over HTTP/1.1, unary and Subscribe`, async () => {
      const app = await AppFixture.create(server, protocol, { users: ["alice", "bob"] });
      const g = await app.group(GroupType.WORK, "alice", ["bob"]);
      const h1 = (user: string) => server.transport(protocol, { token: app.user(user).token, httpVersion: "1.1" });
      const stream = EventStream.open(createClient(EventService, h1("bob")), {}, "bob over HTTP/1.1");
      await stream.ready();
      const sent = await createClient(MessageService, h1("alice")).sendMessage({
        groupId: g,
        elements: [{ element: { case: "text", value: { text: "over h1" } } }],
        receiverIds: ["bob"],
      });
      expect(sent.message?.receiverIds).toEqual(["bob"]);
      await stream.waitFor(isMessage("over h1"));
      await expectError(
        createClient(MessageService, h1("alice")).sendMessage({ groupId: g, elements: [] }),
        Code.InvalidArgument,
        ErrorReason.EMPTY_MESSAGE,
        { field: "elements" },
      );
      stream.close();
    });
  }

  it("WIRE-3: the Connect JSON codec through connect-es, over HTTP/2 and HTTP/1.1", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    for (const httpVersion of ["2", "1.1"] as const) {
      const t = server.transport("connect", { token: app.user("bob").token, httpVersion, useJson: true });
      const stream = EventStream.open(createClient(EventService, t), {}, `bob json h${httpVersion}`);
      await stream.ready();
      const body = `json over ${httpVersion}`;
      await createClient(MessageService, server.transport("connect", { token: app.user("alice").token, httpVersion, useJson: true })).sendMessage({
        groupId: g,
        elements: [{ element: { case: "text", value: { text: body } } }],
      });
      await stream.waitFor(isMessage(body));
      stream.close();
    }
  });
});
