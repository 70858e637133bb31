// A lean gRPC subscriber on node:http2 for the fan-out and latency scenarios. With a thousand
// streams in one client process, connect-es's per-stream pipeline made the *client* the
// bottleneck (profile: client decode, GC and stream plumbing dominated while the server thread
// idled). This client frames by hand and still decodes every message fully with protobuf-es, as
// any real subscriber must. `--subscriber connect` switches back to the generated clients.
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EventService, SubscribeRequestSchema, SubscribeResponseSchema, type SubscribeResponse } from "@narrowcast/gen";

const PATH = `/${EventService.typeName}/${EventService.method.subscribe.name}`;
function requestFrame(cursor: string): Buffer {
  const body = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { cursor }));
  const framed = Buffer.alloc(5 + body.length);
  framed.writeUInt32BE(body.length, 1);
  framed.set(body, 5);
  return framed;
}
const REQUEST = requestFrame("");

export class RawSubscriberConnection {
  private readonly session: http2.ClientHttp2Session;

  constructor(baseUrl: string) {
    this.session = http2.connect(baseUrl);
    this.session.on("error", () => {});
  }

  /**
   * Opens one Subscribe stream (resuming from `cursor` when given); `onEnd` gets an error for a
   * non-OK status. Returns a canceller.
   */
  subscribe(authorization: string, onItem: (item: SubscribeResponse) => void, onEnd: (err?: Error) => void, cursor?: string): () => void {
    const stream = this.session.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc+proto",
      te: "trailers",
      authorization,
    });
    stream.end(cursor ? requestFrame(cursor) : REQUEST);
    let pending: Buffer | undefined;
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    stream.on("data", (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      while (buf.length >= 5) {
        const length = buf.readUInt32BE(1);
        if (buf.length < 5 + length) break;
        onItem(fromBinary(SubscribeResponseSchema, buf.subarray(5, 5 + length)));
        buf = buf.subarray(5 + length);
      }
      pending = buf.length ? buf : undefined;
    });
    stream.on("trailers", (trailers) => {
      const status = trailers["grpc-status"];
      if (status !== undefined && status !== "0") end(new Error(`grpc-status ${status}: ${trailers["grpc-message"] ?? ""}`));
    });
    stream.on("error", (err) => end(err));
    stream.on("close", () => end());
    return () => stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  close(): void {
    this.session.destroy();
  }
}
