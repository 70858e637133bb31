// The anchor of `npm run bench` (issue 13, item 6): a connect-node unary echo server, served the
// way the reference server is served (connectNodeAdapter on node:http2, cleartext HTTP/2), and
// driven by the same client loop as scenario (a). Sends are printed as a ratio to it, so numbers
// from different machines (and runs) compare. Its descriptor is built here, in code, the way
// src/ops/health-service.ts builds grpc.health.v1:
//
//   package bench.v1;
//   message EchoRequest { bytes payload = 1; }
//   message EchoResponse { bytes payload = 1; }
//   service EchoService { rpc Echo(EchoRequest) returns (EchoResponse); }
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, createFileRegistry, toBinary, type Message } from "@bufbuild/protobuf";
import type { GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

const { BYTES: TYPE_BYTES } = FieldDescriptorProto_Type;
const { OPTIONAL: LABEL_OPTIONAL } = FieldDescriptorProto_Label;
const payloadField = [{ name: "payload", jsonName: "payload", number: 1, type: TYPE_BYTES, label: LABEL_OPTIONAL }];

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "bench/v1/echo.proto",
    package: "bench.v1",
    syntax: "proto3",
    messageType: [
      { name: "EchoRequest", field: payloadField },
      { name: "EchoResponse", field: payloadField },
    ],
    service: [{ name: "EchoService", method: [{ name: "Echo", inputType: ".bench.v1.EchoRequest", outputType: ".bench.v1.EchoResponse" }] }],
  }),
  () => undefined,
);

export type EchoRequest = Message<"bench.v1.EchoRequest"> & { payload: Uint8Array };
export type EchoResponse = Message<"bench.v1.EchoResponse"> & { payload: Uint8Array };

function required<T>(value: T | undefined, name: string): T {
  if (!value) throw new Error(`echo descriptor lacks ${name}`);
  return value;
}

export const EchoRequestSchema = required(registry.getMessage("bench.v1.EchoRequest"), "EchoRequest") as GenMessage<EchoRequest>;
export const EchoResponseSchema = required(registry.getMessage("bench.v1.EchoResponse"), "EchoResponse") as GenMessage<EchoResponse>;
export const EchoService = required(registry.getService("bench.v1.EchoService"), "EchoService") as GenService<{
  echo: { methodKind: "unary"; input: typeof EchoRequestSchema; output: typeof EchoResponseSchema };
}>;

/** A payload whose EchoRequest encodes to exactly `encodedBytes`, or as near as can be (measured by encoding it). */
export function echoPayload(encodedBytes: number): Uint8Array {
  const encoded = (n: number) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { payload: new Uint8Array(n) })).length;
  let n = Math.max(0, encodedBytes - 2);
  while (n > 0 && encoded(n) > encodedBytes) n--;
  return new Uint8Array(n).fill(0x78);
}

export interface EchoServer {
  url: string;
  close(): Promise<void>;
}

/** Starts the echo server on 127.0.0.1 (a free port), HTTP/2 without TLS, as the reference server listens. */
export async function startEchoServer(): Promise<EchoServer> {
  const handler = connectNodeAdapter({
    routes(router: ConnectRouter) {
      router.service(EchoService, { echo: (req) => create(EchoResponseSchema, { payload: req.payload }) });
    },
    readMaxBytes: 1024 * 1024,
  });
  // The reference server's default HTTP/2 settings (src/http/limits.ts).
  const server = http2.createServer({ settings: { maxConcurrentStreams: 100 } }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
