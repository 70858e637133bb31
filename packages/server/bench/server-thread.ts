// Worker-thread entry for the bench's servers (the default; `--same-thread` opts out): runs the
// reference server, or the connect-node echo anchor (echo.ts), on an event loop (and core) of its
// own, so the numbers show each server without the clients' CPU in its way, and the two compare
// like separate processes. The parent asks for the subscription count, the thread's busy time and
// shutdown through messages.
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { startServer, type ServerOptions } from "../src/index.js";
import { withBackend, type Backend } from "./backend.js";
import { startEchoServer } from "./echo.js";

/** What the thread runs: plain data (structured clone), so stores and buses are built in here. */
export type ServerThreadSpec = { kind: "narrowcast"; options: ServerOptions; backend: Backend } | { kind: "echo" };
export type ServerThreadRequest = { type: "subscriptions" | "busy" | "close"; id: number };
export type ServerThreadReply =
  | { type: "started"; url: string; adminKey: string }
  | { type: "reply"; id: number; value: number };

const port = parentPort!;
const spec = workerData as ServerThreadSpec;
const server =
  spec.kind === "echo"
    ? { ...(await startEchoServer()), adminKey: "", subscriptions: () => 0 }
    : await startServer(await withBackend(spec.options, spec.backend));
port.postMessage({ type: "started", url: server.url, adminKey: server.adminKey } satisfies ServerThreadReply);
port.on("message", async (req: ServerThreadRequest) => {
  if (req.type === "subscriptions") {
    port.postMessage({ type: "reply", id: req.id, value: server.subscriptions() } satisfies ServerThreadReply);
  } else if (req.type === "busy") {
    // This thread's event loop: milliseconds spent running (not waiting in the poll phase) since
    // the thread started. The server's JavaScript, protobuf coding, HTTP/2 framing and synchronous
    // SQLite all run on it, so a difference of two readings is a fair proxy of the server's CPU
    // time over a window; it leaves out work on other threads (GC helpers, libuv's pool), and a
    // loop that is runnable but descheduled by the OS still counts as busy.
    port.postMessage({ type: "reply", id: req.id, value: performance.eventLoopUtilization().active } satisfies ServerThreadReply);
  } else {
    await server.close();
    port.postMessage({ type: "reply", id: req.id, value: 0 } satisfies ServerThreadReply);
    port.close();
  }
});
