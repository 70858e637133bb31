// Worker-thread entry for `bench --server-thread`: runs the reference server on an event loop
// (and core) of its own, so the numbers show the server without the clients' CPU in its way.
// The parent asks for the subscription count and for shutdown through messages.
import { parentPort, workerData } from "node:worker_threads";
import { startServer, type ServerOptions } from "../src/index.js";

export type ServerThreadRequest = { type: "subscriptions"; id: number } | { type: "close"; id: number };
export type ServerThreadReply =
  | { type: "started"; url: string; adminKey: string }
  | { type: "reply"; id: number; value: number };

const port = parentPort!;
const server = await startServer(workerData as ServerOptions);
port.postMessage({ type: "started", url: server.url, adminKey: server.adminKey } satisfies ServerThreadReply);
port.on("message", async (req: ServerThreadRequest) => {
  if (req.type === "subscriptions") {
    port.postMessage({ type: "reply", id: req.id, value: server.subscriptions() } satisfies ServerThreadReply);
  } else {
    await server.close();
    port.postMessage({ type: "reply", id: req.id, value: 0 } satisfies ServerThreadReply);
    port.close();
  }
});
