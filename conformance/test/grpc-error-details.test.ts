// Issue 8's acceptance test: a gRPC client that knows nothing of Narrowcast's protos — only
// @grpc/grpc-js and the google.rpc protos loaded with @grpc/proto-loader — reads our errors. The
// request bytes are hand-encoded, SendMessage is called through grpc-js's generic client, and the
// `grpc-status-details-bin` trailer is decoded as google.rpc.Status with ErrorInfo and BadRequest
// details in its Any list. Nothing here uses @narrowcast/gen to decode.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AdminService, Plan } from "@narrowcast/gen/admin";
import { startServer, type RunningServer } from "@narrowcast/server";

// node_modules/google-proto-files: the google/rpc protos, as any client would fetch them.
const googleProtos = dirname(createRequire(import.meta.url).resolve("google-proto-files/package.json"));

/**
 * proto-loader exposes (de)serializers on service methods only, so a throwaway service whose
 * methods take the google.rpc messages gives us their decoders. It lives in a temporary
 * directory: it is a decoding aid of this test, not a protocol file.
 */
const decoderProto = `syntax = "proto3";
package decoder;
import "google/rpc/status.proto";
import "google/rpc/error_details.proto";
service Decode {
  rpc Status(google.rpc.Status) returns (google.rpc.Status);
  rpc ErrorInfo(google.rpc.ErrorInfo) returns (google.rpc.ErrorInfo);
  rpc BadRequest(google.rpc.BadRequest) returns (google.rpc.BadRequest);
}
`;

interface Any {
  type_url: string;
  value: Buffer;
}
interface Status {
  code: number;
  message: string;
  details: Any[];
}
interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}
interface BadRequest {
  field_violations: { field: string; description: string; reason: string }[];
}

type Decoders = { [K in "Status" | "ErrorInfo" | "BadRequest"]: (bytes: Buffer) => unknown };

function loadDecoders(): { decoders: Decoders; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "nc-rpc-decoder-"));
  writeFileSync(join(dir, "decoder.proto"), decoderProto);
  const definition = protoLoader.loadSync(["decoder.proto", "google/rpc/status.proto", "google/rpc/error_details.proto"], {
    includeDirs: [dir, googleProtos],
    keepCase: true,
    longs: String,
    defaults: true,
  });
  const service = definition["decoder.Decode"] as protoLoader.ServiceDefinition;
  const decoder = (name: keyof Decoders) => (bytes: Buffer) => service[name]!.responseDeserialize(bytes);
  return { decoders: { Status: decoder("Status"), ErrorInfo: decoder("ErrorInfo"), BadRequest: decoder("BadRequest") }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// ---- hand-encoded protobuf: just what narrowcast.v1.SendMessageRequest needs ----

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited field (wire type 2). */
function field(number: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

/** SendMessageRequest{group_id = 1, elements = 2 (MessageElement{text = 1: TextElement{text = 1}}), receiver_ids = 3}. */
function sendMessageRequest(groupId: string, texts: string[], receiverIds: string[] = []): Buffer {
  return Buffer.concat([field(1, groupId), ...texts.map((t) => field(2, field(1, field(1, t)))), ...receiverIds.map((r) => field(3, r))]);
}

describe("a gRPC client with only the google.rpc protos reads Narrowcast errors", () => {
  let server: RunningServer;
  let token: string;
  let decoders: Decoders;
  let cleanup: () => void;
  let client: grpc.Client;

  beforeAll(async () => {
    server = await startServer({ port: 0 });
    ({ decoders, cleanup } = loadDecoders());
    // Fixtures through the admin API (setup only; the check below uses grpc-js alone).
    const transport = createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${server.adminKey}`), next(req))] });
    const admin = createClient(AdminService, transport);
    const app = (await admin.createApp({ name: "grpc-js", plan: Plan.ULTIMATE })).app!;
    await admin.importUsers({ appId: app.appId, users: [{ userId: "alice" }, { userId: "bob" }, { userId: "erin" }] });
    await admin.createGroup({ appId: app.appId, type: 1 /* WORK */, groupId: "g1", ownerId: "alice", memberIds: ["bob"] });
    token = (await admin.issueUserToken({ appId: app.appId, userId: "alice" })).token;
    client = new grpc.Client(new URL(server.url).host, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    cleanup?.();
    await server?.close();
  });

  /** Calls SendMessage with raw request bytes and returns the ServiceError. */
  function send(request: Buffer): Promise<grpc.ServiceError> {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        "/narrowcast.v1.MessageService/SendMessage",
        (b: Buffer) => b,
        (b: Buffer) => b,
        request,
        metadata,
        (err, value) => (err ? resolve(err) : reject(new Error(`the send was accepted: ${value?.toString("hex")}`))),
      );
    });
  }

  /** Decodes the grpc-status-details-bin trailer into the Status and its known details. */
  function details(err: grpc.ServiceError): { status: Status; infos: ErrorInfo[]; badRequests: BadRequest[]; types: string[] } {
    const bin = err.metadata.get("grpc-status-details-bin")[0];
    expect(bin, "grpc-status-details-bin trailer").toBeInstanceOf(Buffer);
    const status = decoders.Status(bin as Buffer) as Status;
    const of = (suffix: string) => status.details.filter((d) => d.type_url.endsWith(`/google.rpc.${suffix}`));
    return {
      status,
      infos: of("ErrorInfo").map((d) => decoders.ErrorInfo(d.value) as ErrorInfo),
      badRequests: of("BadRequest").map((d) => decoders.BadRequest(d.value) as BadRequest),
      types: status.details.map((d) => d.type_url),
    };
  }

  it("a send without elements: InvalidArgument, ErrorInfo narrowcast/EMPTY_MESSAGE field elements, BadRequest on elements", async () => {
    const err = await send(sendMessageRequest("g1", []));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const d = details(err);
    expect(d.status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(d.status.message).toBe(err.details);
    expect(d.types).toEqual(["type.googleapis.com/google.rpc.ErrorInfo", "type.googleapis.com/google.rpc.BadRequest"]);
    expect(d.infos).toEqual([{ reason: "EMPTY_MESSAGE", domain: "narrowcast", metadata: { field: "elements" } }]);
    expect(d.badRequests).toHaveLength(1);
    expect(d.badRequests[0]!.field_violations).toEqual([{ field: "elements", description: err.details, reason: "EMPTY_MESSAGE", localized_message: null }]);
  });

  it("a targeted send to a non-member: FailedPrecondition, ErrorInfo narrowcast/RECEIVER_NOT_MEMBER with comma-joined ids", async () => {
    const err = await send(sendMessageRequest("g1", ["hi"], ["bob", "erin", "ghost"]));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    const d = details(err);
    expect(d.infos).toHaveLength(1);
    expect(d.infos[0]!.domain).toBe("narrowcast");
    expect(d.infos[0]!.reason).toBe("RECEIVER_NOT_MEMBER");
    expect(d.infos[0]!.metadata.ids!.split(",").sort()).toEqual(["erin", "ghost"]);
  });
});
