// Error details on the wire (rules ERR-1, ERR-5, WIRE-5), read below the generated clients: every
// path that writes an error (connect-es handlers, the binary-body guard, the Subscribe fast path)
// sends google.rpc.ErrorInfo in domain "narrowcast", a BadRequest when a field is at fault and a
// RetryInfo for retryable reasons, in the gRPC trailer (grpc-status-details-bin) and in the
// Connect error body alike.
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  GetGroupRequestSchema,
  GroupType,
  RetryInfoSchema,
  StatusSchema,
  SubscribeRequestSchema,
} from "@narrowcast/gen";
import { AppFixture, TestServer, seconds } from "./support.js";

let server: TestServer;
let app: AppFixture;
beforeAll(async () => {
  server = await TestServer.start();
  app = await AppFixture.create(server, "grpc", { users: ["alice"] });
});
afterAll(async () => {
  await server?.close();
});

function envelope(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

function encode<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/** The decoded details of a google.rpc.Status, by type. */
function decodeDetails(details: { typeUrl: string; value: Uint8Array }[]) {
  const any = (d: { typeUrl: string; value: Uint8Array }) => ({ $typeName: "google.protobuf.Any" as const, ...d });
  return {
    types: details.map((d) => d.typeUrl.replace(/^type\.googleapis\.com\//, "")),
    info: details.map((d) => anyUnpack(any(d), ErrorInfoSchema)).find(Boolean),
    badRequest: details.map((d) => anyUnpack(any(d), BadRequestSchema)).find(Boolean),
    retry: details.map((d) => anyUnpack(any(d), RetryInfoSchema)).find(Boolean),
  };
}

/** A raw gRPC call over HTTP/2: the trailers' status and decoded details. */
async function grpcCall(path: string, body: Uint8Array, headers: Record<string, string> = {}) {
  const session = http2.connect(server.url);
  try {
    return await new Promise<{ status: string; details: ReturnType<typeof decodeDetails> }>((resolve, reject) => {
      const req = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc+proto",
        te: "trailers",
        authorization: `Bearer ${app.user("alice").token}`,
        ...headers,
      });
      let headerStatus: string | undefined;
      let headerDetails: string | undefined;
      req.on("response", (h) => {
        // A trailers-only response carries the status in the headers.
        headerStatus = h["grpc-status"] as string | undefined;
        headerDetails = h["grpc-status-details-bin"] as string | undefined;
      });
      req.on("trailers", (t) => {
        headerStatus = (t["grpc-status"] as string | undefined) ?? headerStatus;
        headerDetails = (t["grpc-status-details-bin"] as string | undefined) ?? headerDetails;
      });
      req.on("data", () => {});
      req.on("error", reject);
      req.on("close", () => {
        const status = fromBinary(StatusSchema, Buffer.from(headerDetails ?? "", "base64"));
        resolve({ status: headerStatus ?? "", details: decodeDetails(status.details) });
      });
      req.end(envelope(body));
    });
  } finally {
    session.close();
  }
}

/** A raw Connect streaming call: the end-stream message's error details. */
async function connectStreamCall(path: string, body: Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/connect+proto", authorization: `Bearer ${app.user("alice").token}`, ...headers },
    body: new Uint8Array(envelope(body)),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  // The last envelope (flag 2) is the end-stream JSON.
  let at = 0;
  let end: any;
  while (at + 5 <= bytes.length) {
    const len = bytes.readUInt32BE(at + 1);
    if (bytes[at] & 2) end = JSON.parse(bytes.subarray(at + 5, at + 5 + len).toString("utf8"));
    at += 5 + len;
  }
  const details = ((end?.error?.details ?? []) as { type: string; value: string }[]).map((d) => ({
    typeUrl: `type.googleapis.com/${d.type}`,
    value: new Uint8Array(Buffer.from(d.value, "base64")),
  }));
  return { code: end?.error?.code as string, details: decodeDetails(details) };
}

const SUBSCRIBE = "/narrowcast.v1.EventService/Subscribe";

describe("ERR-1, ERR-5: error details on the wire", () => {
  it("gRPC unary (connect-es handler): ErrorInfo and BadRequest in grpc-status-details-bin", async () => {
    const { status, details } = await grpcCall("/narrowcast.v1.GroupService/GetGroup", encode(GetGroupRequestSchema, { groupId: "bad id" }));
    expect(status).toBe("3");
    expect(details.types).toEqual(["google.rpc.ErrorInfo", "google.rpc.BadRequest"]);
    expect(details.info).toMatchObject({ reason: "FIELD_INVALID", domain: "narrowcast", metadata: { field: "group_id" } });
    expect(details.badRequest?.fieldViolations.map((v) => [v.field, v.reason])).toEqual([["group_id", "FIELD_INVALID"]]);
    expect(details.retry).toBeUndefined();
  });

  it("gRPC unary: IDs are comma-joined in the metadata; errors without a field have no BadRequest", async () => {
    const g = await app.group(GroupType.WORK, "alice");
    const missing = await grpcCall("/narrowcast.v1.GroupService/GetGroup", encode(GetGroupRequestSchema, { groupId: "no-such" }));
    expect(missing.details.info).toMatchObject({ reason: "GROUP_NOT_FOUND", metadata: { field: "group_id", ids: "no-such" } });
    const anonymous = await grpcCall("/narrowcast.v1.GroupService/GetGroup", encode(GetGroupRequestSchema, { groupId: g }), {
      authorization: "",
    });
    expect(anonymous.status).toBe("16");
    expect(anonymous.details.types).toEqual(["google.rpc.ErrorInfo"]);
    expect(anonymous.details.info?.reason).toBe("TOKEN_MISSING");
    expect(anonymous.details.info?.metadata).toEqual({});
  });

  it("gRPC, binary-body guard: an undecodable body is FIELD_INVALID with an ErrorInfo", async () => {
    const { status, details } = await grpcCall("/narrowcast.v1.GroupService/GetGroup", new Uint8Array([0x0a, 0xff, 0xff]));
    expect(status).toBe("3");
    expect(details.info).toMatchObject({ reason: "FIELD_INVALID", domain: "narrowcast" });
  });

  it("Subscribe, fast path and connect-es handler: the same details over gRPC and Connect", async () => {
    const badHeartbeat = encode(SubscribeRequestSchema, { heartbeatInterval: seconds(301) });
    const badCursor = encode(SubscribeRequestSchema, { cursor: "garbage" });
    // No timeout header: the fast path. A timeout header: connect-es.
    for (const headers of [{}, { "grpc-timeout": "5S" }] as Record<string, string>[]) {
      const hb = await grpcCall(SUBSCRIBE, badHeartbeat, headers);
      expect(hb.status).toBe("3");
      expect(hb.details.info).toMatchObject({ reason: "FIELD_INVALID", domain: "narrowcast", metadata: { field: "heartbeat_interval" } });
      expect(hb.details.badRequest?.fieldViolations[0]?.field).toBe("heartbeat_interval");
      const cursor = await grpcCall(SUBSCRIBE, badCursor, headers);
      expect(cursor.details.info).toMatchObject({ reason: "CURSOR_INVALID", metadata: { field: "cursor" } });
    }
    for (const headers of [{}, { "connect-timeout-ms": "5000" }] as Record<string, string>[]) {
      const hb = await connectStreamCall(SUBSCRIBE, badHeartbeat, headers);
      expect(hb.code).toBe("invalid_argument");
      expect(hb.details.types).toEqual(["google.rpc.ErrorInfo", "google.rpc.BadRequest"]);
      expect(hb.details.info).toMatchObject({ reason: "FIELD_INVALID", metadata: { field: "heartbeat_interval" } });
    }
    // A malformed envelope on the fast path: FIELD_INVALID with an ErrorInfo, not a bare error.
    const res = await fetch(`${server.url}${SUBSCRIBE}`, {
      method: "POST",
      headers: { "content-type": "application/connect+proto", authorization: `Bearer ${app.user("alice").token}` },
      body: new Uint8Array([0, 0, 0]),
    });
    const text = Buffer.from(await res.arrayBuffer()).subarray(5).toString("utf8");
    const end = JSON.parse(text);
    expect(end.error.code).toBe("invalid_argument");
    expect(end.error.details.map((d: { type: string }) => d.type)).toEqual(["google.rpc.ErrorInfo"]);
  });
});
