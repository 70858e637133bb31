// /readyz follows the NATS bus's reachability (issue 11): the bus connects through a TCP proxy of
// the test's own, which the test cuts and restores (the machine's NATS is not touched).
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NatsBus } from "../src/bus/nats.js";
import { natsAvailable, natsUrl, requireOrSkip } from "./services.js";
import { TestServer } from "./support.js";
import { CuttableProxy } from "./tcp-proxy.js";

const skip = requireOrSkip(await natsAvailable(), `NATS at ${natsUrl()}`);

describe.skipIf(skip)("readiness on NATS", () => {
  it("answers 503 while NATS is unreachable and 200 once the bus has reconnected", async () => {
    const proxy = new CuttableProxy(natsUrl());
    const port = await proxy.listen();
    const bus = await NatsBus.connect({ servers: `nats://127.0.0.1:${port}`, subject: `narrowcast.test.ready.${randomBytes(6).toString("hex")}` });
    const server = await TestServer.start({ bus });
    const readyz = async () => {
      const res = await fetch(`${server.url}/readyz`);
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    try {
      expect(await readyz()).toEqual({ status: 200, body: { status: "ready", store: "ok", bus: "ok" } });

      proxy.down();
      const down = await readyz();
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: "not ready", store: "ok" });
      expect(down.body.bus).not.toBe("ok");

      proxy.up();
      // The NATS client reconnects on its own schedule (every 2 s by default): ask until it has.
      let after = await readyz();
      for (let attempt = 1; after.status !== 200 && attempt < 10; attempt++) after = await readyz();
      expect(after).toEqual({ status: 200, body: { status: "ready", store: "ok", bus: "ok" } });
    } finally {
      await server.close();
      await proxy.close();
    }
  });
});
