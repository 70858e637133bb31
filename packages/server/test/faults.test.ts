// Fault injection on a multi-node cluster (issue 16, item 6): 2 and 3 server nodes on a private
// PostgreSQL and a private nats-server (started here, never the machine's), subscribers spread
// over the nodes and resuming on the next node when a stream ends, senders retrying with the same
// client_message_id. Each fault runs for a short window; afterwards every device must have
// received every acknowledged message of its audience exactly once, in each group's seq order,
// and nothing meant for others. Catch-up time, latency and client errors are printed, not
// asserted. Longer windows: packages/server/test/faults/cli.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./faults/cluster.js";
import { FAULT_NAMES } from "./faults/faults.js";
import { natsInstallable } from "./faults/nats.js";
import { postgresInstallable } from "./faults/postgres.js";
import { check, type Finding } from "./faults/check.js";
import { Device } from "./faults/load.js";
import type { Delivery, SentMessage } from "./faults/records.js";
import { runScenario, type ScenarioResult } from "./faults/scenario.js";
import { details, table } from "./faults/table.js";
import { requireOrSkip } from "./services.js";

const skip = requireOrSkip(natsInstallable() && postgresInstallable(), "nats-server and PostgreSQL's initdb/pg_ctl (to start private instances)");
const WINDOW_SECONDS = 2.5;
// A bound, not a measure: how long the sends may take to be acknowledged after the load stops,
// and then the deliveries to arrive (catch-up time is printed, not asserted).
const QUIESCENCE_MS = 20_000;
const results: ScenarioResult[] = [];

afterAll(() => {
  if (results.length === 0) return;
  console.log(`fault injection, ${WINDOW_SECONDS} s windows:\n${table(results)}\n${details(results)}`);
});

// The checker itself, on made-up deliveries: it must be able to fail.
describe("fault checker", () => {
  it("counts missed, duplicate, out-of-order and misdelivered messages", () => {
    const sent = (n: number, receiverIds: string[] = []): SentMessage => ({ clientMessageId: `m${n}`, senderId: "a", groupId: "g", receiverIds, firstAttemptAt: 0, messageId: `id${n}`, serverTime: 0 });
    const delivery = (n: number, receiverIds: string[] = []): Delivery => ({ messageId: `id${n}`, clientMessageId: `m${n}`, senderId: "a", groupId: "g", seq: BigInt(n), receiverIds, serverTime: 0, at: 1, node: 0, replay: false });
    const b = new Device("b", "b/0", "", [], 0);
    // m1 twice (duplicate, and out of order after m2), m3 targeted at c only, m4 never.
    b.deliveries.push(delivery(1), delivery(2), delivery(1), delivery(3, ["c"]));
    const result = check([sent(1), sent(2), sent(3, ["c"]), sent(4)], [b], [{ groupId: "g", members: ["a", "b", "c"] }], { start: 0, end: 0 }, []);
    expect(result.missed.map((f) => f.clientMessageId)).toEqual(["m4"]);
    expect(result.duplicates.map((f) => f.clientMessageId)).toEqual(["m1"]);
    expect(result.orderViolations.map((f) => f.clientMessageId)).toEqual(["m1"]);
    expect(result.wronglyDelivered.map((f) => f.clientMessageId)).toEqual(["m3"]);
  });
});

for (const nodes of [2, 3]) {
  describe.runIf(!skip)(`fault injection on ${nodes} nodes`, () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await Cluster.start(nodes);
    }, 120_000);
    afterAll(async () => {
      await cluster?.destroy();
    }, 30_000);

    for (const fault of FAULT_NAMES) {
      it(`${fault}: no missed, repeated, reordered or misdelivered message`, { timeout: 120_000 }, async () => {
        const result = await runScenario(cluster, { fault, windowSeconds: WINDOW_SECONDS, beforeSeconds: 1, afterSeconds: 1.5, quiescenceMs: QUIESCENCE_MS });
        results.push(result);
        const c = result.check;
        // Counts, with the first findings as the message (the full lists are printed after the file).
        const first = (list: Finding[]) => list.slice(0, 5).map((f) => `${f.clientMessageId} on ${f.device}: ${f.detail}`).join("; ");
        expect(c.acknowledged, "the load sent and got acknowledgements").toBeGreaterThan(0);
        expect(c.missed.length, `permanently missed deliveries: ${[...c.missedByPath].map(([p, n]) => `${n} ${p}`).join("; ")}; ${first(c.missed)}`).toBe(0);
        expect(c.duplicates.length, `duplicate deliveries: ${first(c.duplicates)}`).toBe(0);
        expect(c.orderViolations.length, `deliveries out of seq order (EVT-8): ${first(c.orderViolations)}`).toBe(0);
        expect(c.wronglyDelivered.length, `targeted messages delivered outside their audience: ${first(c.wronglyDelivered)}`).toBe(0);
        expect(result.quiescent, `everything delivered within ${QUIESCENCE_MS / 1000} s`).toBe(true);
      });
    }
  });
}
