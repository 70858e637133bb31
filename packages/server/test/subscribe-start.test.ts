// EVT-3 at the start of a stream without a cursor: `ready` comes first, and an event committed
// while the stream registers with the hub follows it (once), on both Subscribe paths.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Interceptor } from "@connectrpc/connect";
import { GroupType } from "@narrowcast/gen";
import type { Store } from "../src/store/types.js";
import { AppFixture, PROTOCOLS, TestServer, isMessage } from "./support.js";

/** A store whose listUserGroups (read while a stream registers) waits, once armed, until released. */
function gatedStore() {
  let armed: { entered: () => void; gate: Promise<void> } | undefined;
  const wrap = (inner: Store): Store =>
    new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === "listUserGroups") {
          return async (...args: Parameters<Store["listUserGroups"]>) => {
            const a = armed;
            armed = undefined;
            if (a) {
              a.entered();
              await a.gate;
            }
            return target.listUserGroups(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const arm = () => {
    let entered!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const gate = new Promise<void>((r) => (release = r));
    armed = { entered, gate };
    return { inside, release };
  };
  return { wrap, arm };
}

/** Any interceptor turns the fast path off (ServerOptions.subscribeFastPath). */
const passThrough: Interceptor = (next) => (req) => next(req);

describe.each([
  ["fast path", {}],
  ["connect-es handler", { interceptors: [passThrough] }],
])("Subscribe without a cursor (%s)", (_name, extra) => {
  const gated = gatedStore();
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start({ wrapStore: gated.wrap, ...extra });
  });
  afterAll(() => server?.close());

  it.each(PROTOCOLS)("sends ready first; a message committed while the stream registers follows it once (%s)", async (protocol) => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const gate = gated.arm();
    const stream = app.user("bob").subscribe();
    await gate.inside;
    await app.user("alice").send(g, "during registration");
    gate.release();
    const bob = await stream;
    await bob.waitFor(isMessage("during registration"));
    await app.user("alice").send(g, "after");
    await bob.waitFor(isMessage("after"));
    const kinds = bob.items.map((i) => (i.item.case === "event" ? i.item.value.payload.case : i.item.case));
    expect(kinds).toEqual(["ready", "messageReceived", "messageReceived"]);
    bob.close();
  });

  it.each(PROTOCOLS)("a second stream of the user, opened while the first registers, gets the next live event (%s)", async (protocol) => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const gate = gated.arm();
    const first = app.user("bob").subscribe();
    await gate.inside;
    // The second device registers while the first stream's group list is still loading: it must
    // not be ready before bob's groups are indexed, or the next message would pass it by.
    const second = app.user("bob").subscribe();
    setTimeout(gate.release, 200);
    const phone = await second;
    await app.user("alice").send(g, "to both devices");
    await phone.waitFor(isMessage("to both devices"));
    const laptop = await first;
    await laptop.waitFor(isMessage("to both devices"));
    phone.close();
    laptop.close();
  });
});
