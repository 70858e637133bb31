// Database round trips per request on PostgreSQL (issue 16: at most 3 per ordinary send). Every
// query the pg driver sends is one round trip; the server runs in this process, so wrapping the
// driver's Client.query counts them exactly. Requests run one at a time, with no stream open
// (so no background head polls).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupType } from "@narrowcast/gen";
import { PostgresStore } from "../src/store/postgres.js";
import { adminSql, postgresAvailable, postgresUrl, requireOrSkip } from "./services.js";
import { AppFixture, TestServer } from "./support.js";

const skip = requireOrSkip(await postgresAvailable(), "PostgreSQL (round trips)");

describe.skipIf(skip)("database round trips per request on PostgreSQL", () => {
  const schema = `nc_trips_${randomBytes(6).toString("hex")}`;
  let server: TestServer;
  let count = 0;
  const original = pg.Client.prototype.query;


  beforeAll(async () => {
    await adminSql(`CREATE SCHEMA ${schema}`);
    // No periodic look for webhook deliveries: it would be counted as round trips of whatever request it overlaps.
    server = await TestServer.start({ store: new PostgresStore({ connectionString: postgresUrl(), schema, max: 4 }), webhookPollMs: 0 });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the driver's overloads
    (pg.Client.prototype as any).query = function (this: pg.Client, ...args: unknown[]) {
      count++;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return (original as any).apply(this, args);
    };
  });
  afterAll(async () => {
    pg.Client.prototype.query = original;
    await server?.close();
    await adminSql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  /** Mean round trips of `n` calls of `call`, after one warm-up call. */
  async function tripsOf(call: (i: number) => Promise<unknown>, n = 10): Promise<number> {
    await call(-1);
    const before = count;
    for (let i = 0; i < n; i++) await call(i);
    return (count - before) / n;
  }

  it("an ordinary send, a targeted send and an idempotent retry take at most 3 each", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const alice = app.user("alice");
    const ordinary = await tripsOf((i) => alice.send(g, `m${i}`, { clientMessageId: `c${i}` }));
    const targeted = await tripsOf((i) => alice.send(g, `t${i}`, { receiverIds: ["bob", "carol"], clientMessageId: `t${i}` }));
    const retried = await tripsOf((i) => alice.send(g, `m${i}`, { clientMessageId: `c${Math.max(i, 0)}` }));
    expect({ ordinary, targeted, retried }).toEqual({ ordinary: 3, targeted: 3, retried: 2 });
  });

  it("a page of ListConversations takes 2, however many conversations the user has", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
    for (let i = 0; i < 12; i++) await app.user("alice").send(await app.group(GroupType.WORK, "alice", ["bob"]), "hi");
    const bob = app.user("bob");
    const page = await tripsOf(() => bob.conversations.listConversations({ pageSize: 5 }));
    expect(page).toBe(2);
  });
});
