import { createClient } from "@connectrpc/connect";
import type { Client, Transport } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { NarrowcastError } from "./errors.js";

/**
 * A generated connect-es client whose calls throw NarrowcastError instead of ConnectError,
 * so that code using the raw services handles one error type, like the rest of the SDK.
 */
export function createServiceClient<T extends DescService>(service: T, transport: Transport): Client<T> {
  const client = createClient(service, transport) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = client[method.localName];
    switch (method.methodKind) {
      case "unary":
        wrapped[method.localName] = async (...args: unknown[]) => {
          try {
            return await call(...args);
          } catch (e) {
            throw NarrowcastError.from(e);
          }
        };
        break;
      case "server_streaming":
        wrapped[method.localName] = (...args: unknown[]) => convertStreamErrors(call(...args) as AsyncIterable<unknown>);
        break;
      default:
        wrapped[method.localName] = call;
    }
  }
  return wrapped as Client<T>;
}

async function* convertStreamErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (e) {
    throw NarrowcastError.from(e);
  }
}
