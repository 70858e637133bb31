// Runs every example against a real server, as CI does, and checks what each one shows:
// the receivers got the targeted message, the other members did not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTargeted } from "@narrowcast/client";
import { startServer } from "@narrowcast/server";
import type { RunningServer } from "@narrowcast/server";
import type { ExampleOptions } from "./demo.js";
import * as native from "./native-targeted-message.js";
import * as single from "./single-receiver.js";
import * as web from "./web-targeted-message.js";

let server: RunningServer;
let options: ExampleOptions;
const printed: string[] = [];
beforeAll(async () => {
  server = await startServer({ port: 0 });
  options = { baseUrl: server.url, adminKey: server.adminKey, log: (line) => printed.push(line) };
});
afterAll(async () => {
  await server?.close();
});

describe("examples", () => {
  it("web-targeted-message: user0 and user1 get it, user2 does not", async () => {
    const result = await web.main(options);
    expect(result.sent).toMatchObject({ receiverIds: ["user0", "user1"] });
    expect(isTargeted(result.sent)).toBe(true);
    expect(result.received).toEqual({
      me: ["Hello world!", "that was all"],
      user0: ["Hello world!", "that was all"],
      user1: ["Hello world!", "that was all"],
      user2: ["that was all"],
    });
    expect(printed).toContain('user2 received: "that was all"');
  });

  it("native-targeted-message: vinson and denny get it, lisa does not", async () => {
    const result = await native.main(options);
    expect(result.sent).toMatchObject({ receiverIds: ["vinson", "denny"] });
    expect(isTargeted(result.sent)).toBe(true);
    expect(result.received.vinson).toEqual(["This is a targeted group message", "that was all"]);
    expect(result.received.denny).toEqual(["This is a targeted group message", "that was all"]);
    expect(result.received.lisa).toEqual(["that was all"]);
  });

  it("single-receiver: only userID sees it, the other member sees a seq gap", async () => {
    const result = await single.main(options);
    expect(result.sent).toMatchObject({ receiverIds: ["userID"], seq: 2 });
    expect(result.received.userID).toEqual(["good morning", "just for you", "see you"]);
    expect(result.received.other).toEqual(["good morning", "see you"]);
    expect(result.historySeqs).toEqual({ me: [1, 2, 3], userID: [1, 2, 3], other: [1, 3] });
  });

  it("the examples also run over gRPC", async () => {
    const result = await web.main({ ...options, protocol: "grpc" });
    expect(result.received.user2).toEqual(["that was all"]);
  });
});
