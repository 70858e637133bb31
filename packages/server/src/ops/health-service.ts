// The gRPC health checking protocol, grpc.health.v1.Health (Check and Watch), for load balancers,
// Kubernetes gRPC probes and grpc_health_probe. No npm package installed here ships its .proto,
// and it is not part of the Narrowcast protocol (proto/ and gen/), so its descriptor is built here
// from the documented schema (github.com/grpc/grpc/blob/master/doc/health-checking.md):
//
//   package grpc.health.v1;
//   message HealthCheckRequest { string service = 1; }
//   message HealthCheckResponse {
//     enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
//     ServingStatus status = 1;
//   }
//   service Health {
//     rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
//     rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
//   }
//
// Every service of the server has the node's readiness (store and bus reachable); "" means the
// whole server. An unknown service is NotFound on Check and SERVICE_UNKNOWN on Watch, as the
// protocol says.
import { create, createFileRegistry, type Message } from "@bufbuild/protobuf";
import type { GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { Readiness } from "./readiness.js";

const { STRING: TYPE_STRING, ENUM: TYPE_ENUM } = FieldDescriptorProto_Type;
const { OPTIONAL: LABEL_OPTIONAL } = FieldDescriptorProto_Label;

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "grpc/health/v1/health.proto",
    package: "grpc.health.v1",
    syntax: "proto3",
    messageType: [
      { name: "HealthCheckRequest", field: [{ name: "service", jsonName: "service", number: 1, type: TYPE_STRING, label: LABEL_OPTIONAL }] },
      {
        name: "HealthCheckResponse",
        field: [
          { name: "status", jsonName: "status", number: 1, type: TYPE_ENUM, label: LABEL_OPTIONAL, typeName: ".grpc.health.v1.HealthCheckResponse.ServingStatus" },
        ],
        enumType: [
          {
            name: "ServingStatus",
            value: [
              { name: "UNKNOWN", number: 0 },
              { name: "SERVING", number: 1 },
              { name: "NOT_SERVING", number: 2 },
              { name: "SERVICE_UNKNOWN", number: 3 },
            ],
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          { name: "Check", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse" },
          { name: "Watch", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse", serverStreaming: true },
        ],
      },
    ],
  }),
  () => undefined,
);

/** HealthCheckResponse.ServingStatus. */
export enum ServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  SERVICE_UNKNOWN = 3,
}

// The types protoc-gen-es would generate for the schema above.
export type HealthCheckRequest = Message<"grpc.health.v1.HealthCheckRequest"> & { service: string };
export type HealthCheckResponse = Message<"grpc.health.v1.HealthCheckResponse"> & { status: ServingStatus };

function required<T>(value: T | undefined, name: string): T {
  if (!value) throw new Error(`health descriptor lacks ${name}`);
  return value;
}

export const HealthCheckRequestSchema = required(registry.getMessage("grpc.health.v1.HealthCheckRequest"), "HealthCheckRequest") as GenMessage<HealthCheckRequest>;
export const HealthCheckResponseSchema = required(registry.getMessage("grpc.health.v1.HealthCheckResponse"), "HealthCheckResponse") as GenMessage<HealthCheckResponse>;
export const HealthService = required(registry.getService("grpc.health.v1.Health"), "Health") as GenService<{
  check: { methodKind: "unary"; input: typeof HealthCheckRequestSchema; output: typeof HealthCheckResponseSchema };
  watch: { methodKind: "server_streaming"; input: typeof HealthCheckRequestSchema; output: typeof HealthCheckResponseSchema };
}>;

export interface HealthServiceOptions {
  readiness: Readiness;
  /** Fully-qualified names of the services this server serves (besides "" for the whole server). */
  services: readonly string[];
  /** How often Watch re-checks readiness; default 5,000 ms. */
  watchIntervalMs?: number;
}

function response(status: ServingStatus): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status });
}

/** Registers grpc.health.v1.Health on the router. */
export function registerHealthService(router: ConnectRouter, options: HealthServiceOptions): void {
  const known = new Set(["", ...options.services]);
  const interval = options.watchIntervalMs ?? 5000;
  const status = async (service: string): Promise<ServingStatus> => {
    if (!known.has(service)) return ServingStatus.SERVICE_UNKNOWN;
    return (await options.readiness.check()).ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };
  router.service(HealthService, {
    async check(req) {
      const service = req.service;
      const s = await status(service);
      if (s === ServingStatus.SERVICE_UNKNOWN) throw new ConnectError(`unknown service ${JSON.stringify(service)}`, Code.NotFound);
      return response(s);
    },
    // Sends the status now and again whenever it changes, until the client goes away.
    async *watch(req, ctx) {
      const service = req.service;
      const aborted = new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      let last: ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const s = await status(service);
        if (s !== last) yield response((last = s));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([aborted, new Promise<void>((resolve) => (timer = setTimeout(resolve, interval)))]);
        clearTimeout(timer);
      }
    },
  });
}
