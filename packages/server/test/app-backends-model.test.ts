// Model-based test of app backends (spec section 16: HOOK-6, HOOK-7, HOOK-8, HOOK-13): seeded
// random sends (ordinary, targeted, online-only), recalls, membership changes, streams opening and
// closing and webhook changes, against a reference model of the deliveries that must arrive — on
// one node (SQLite) and on two nodes sharing PostgreSQL and NATS — with a receiver that fails 30%
// of attempts. A failure prints the seed, the rule, and the last operations.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "@narrowcast/server";
import { WebhookEventType } from "@narrowcast/gen/admin";
import { NatsBus } from "../src/bus/nats.js";
import { PostgresStore } from "../src/store/postgres.js";
import type { ServerOptions } from "../src/server.js";
import { AppBackendReceiver } from "./app-backend-receiver.js";
import { runAppBackendsModel, type Deployment, type RunResult } from "./app-backends-model/run.js";
import { StoreProbe } from "./app-backends-model/store-probe.js";
import { ModelFailure } from "./model/failure.js";
import { adminSql, natsAvailable, natsUrl, postgresAvailable, postgresUrl, requireOrSkip } from "./services.js";
import { TestServer } from "./support.js";

const RETRY: ServerOptions["webhookRetry"] = { baseMs: 20, capMs: 80, maxAttempts: 50 };
const STEPS = 60;

interface Started extends Deployment {
  close(): Promise<void>;
}

async function oneNode(breakage?: (store: Store) => Store): Promise<Started> {
  const probe = new StoreProbe(breakage);
  const receiver = await AppBackendReceiver.start();
  const a = await TestServer.start({ webhookRetry: RETRY, wrapStore: probe.wrap });
  return {
    nodes: [a],
    receiver,
    probe,
    async close() {
      await a.close();
      await receiver.close();
    },
  };
}

/** Two nodes sharing one PostgreSQL schema and one NATS subject, as app-backends.test.ts starts them. */
async function twoNodes(): Promise<Started> {
  const probe = new StoreProbe();
  const receiver = await AppBackendReceiver.start();
  const schema = `nc_hookmodel_${randomBytes(6).toString("hex")}`;
  await adminSql(`CREATE SCHEMA ${schema}`);
  const subject = `narrowcast.test.${randomBytes(6).toString("hex")}`;
  const node = async () =>
    TestServer.start({
      store: new PostgresStore({ connectionString: postgresUrl(), schema, max: 4 }),
      bus: await NatsBus.connect({ servers: natsUrl(), subject }),
      webhookRetry: RETRY,
      wrapStore: probe.wrap,
    });
  const a = await node();
  const b = await node();
  return {
    nodes: [a, b],
    receiver,
    probe,
    async close() {
      await b.close();
      await a.close();
      await receiver.close();
      await adminSql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

function expectPass(result: RunResult): void {
  expect(result.ok, result.report).toBe(true);
  // The run exercised what it claims to: failed attempts retried, events and push requests.
  expect(result.stats.failed).toBeGreaterThan(0);
  expect(result.stats.expected["message.sent"]).toBeGreaterThan(0);
  expect(result.stats.expected["push.requested"]).toBeGreaterThan(0);
}

function runs(name: string, start: () => Promise<Started>, seeds: readonly number[], enabled: boolean): void {
  describe.runIf(enabled)(`app backends model, ${name}`, () => {
    let deployment: Started;
    beforeAll(async () => {
      deployment = await start();
    }, 60_000);
    afterAll(async () => {
      await deployment?.close();
    });

    for (const seed of seeds) {
      it(`${STEPS} random operations, seed ${seed}`, { timeout: 120_000 }, async () => {
        expectPass(await runAppBackendsModel(deployment, { seed, steps: STEPS }));
      });
    }
  });
}

// Seeds whose runs send, push, recall, change membership and fail attempts (about 8 s each here).
runs("one node (SQLite)", oneNode, [20261204, 7, 42], true);

const servicesUp = (await postgresAvailable()) && (await natsAvailable(natsUrl()));
const skipTwoNodes = requireOrSkip(servicesUp, "PostgreSQL and NATS (app backends model on two nodes)");
runs("two nodes (PostgreSQL + NATS)", twoNodes, [1414, 5, 3], !skipTwoNodes);

/** Decorates one store method, keeping the others (bound to the store). */
function replacing<K extends keyof Store>(prop: K, make: (original: Store[K], store: Store) => Store[K]): (store: Store) => Store {
  return (inner) =>
    new Proxy(inner, {
      get(target, p, receiver) {
        if (p === prop) return make((target[prop] as (...a: unknown[]) => unknown).bind(target) as Store[K], target);
        const value = Reflect.get(target, p, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
}

/** A seed whose run deletes the webhook and then commits events. */
const SEED_WITH_DELETE = 5;

describe("the app backends model catches a broken server", () => {
  async function brokenRun(breakage: (store: Store) => Store, seed = 20261204): Promise<RunResult> {
    const deployment = await oneNode(breakage);
    try {
      // A missing delivery is reported after 3 s: long enough for 30% failures with 20–80 ms retries.
      return await runAppBackendsModel(deployment, { seed, steps: STEPS, quiesceTimeoutMs: 3_000 });
    } finally {
      await deployment.close();
    }
  }

  it("reports HOOK-13 when push requests go to users with an open stream", { timeout: 120_000 }, async () => {
    const result = await brokenRun(replacing("onlineUsers", () => async () => new Set<string>()));
    expect(result.ok).toBe(false);
    expect(result.failure).toBeInstanceOf(ModelFailure);
    expect((result.failure as ModelFailure).rule).toBe("HOOK-13");
    expect(result.report).toContain("seed=20261204");
  });

  it("reports HOOK-6 when events of types the webhook does not list are delivered", { timeout: 120_000 }, async () => {
    const everyType = Object.values(WebhookEventType).filter((t): t is WebhookEventType => typeof t === "number" && t !== WebhookEventType.UNSPECIFIED);
    const result = await brokenRun(replacing("putWebhook", (original) => async (record) => original({ ...record, config: { ...record.config, eventTypes: everyType } })));
    expect(result.ok).toBe(false);
    expect((result.failure as ModelFailure).rule).toMatch(/^HOOK-(6|13)$/);
    expect(result.report).toContain("unexpected delivery");
  });

  it("reports deliveries after DeleteWebhook (HOOK-2) when the configuration is not removed", { timeout: 120_000 }, async () => {
    const result = await brokenRun(replacing("deleteWebhook", () => async () => true), SEED_WITH_DELETE);
    expect(result.ok).toBe(false);
    expect(result.report).toContain("unexpected delivery");
    expect(result.report).toContain("deleteWebhook");
  });

  it("reports HOOK-13 when a push request is lost", { timeout: 120_000 }, async () => {
    const result = await brokenRun(replacing("expandPush", (original) => async (appId, fanoutId, pushes, now) => original(appId, fanoutId, pushes.slice(1), now)));
    expect(result.ok).toBe(false);
    expect((result.failure as ModelFailure).rule).toBe("HOOK-13");
    expect(result.report).toContain("never arrived");
  });
});
