// External services the server's tests may use (PostgreSQL, NATS): where they are, whether they
// answer, and what a test file does when they do not.
// A developer without the service sees the file's suites skipped with a warning; a run with
// NARROWCAST_REQUIRE_SERVICES=1 (CI, where the services are provisioned) fails instead.
import pg from "pg";
import { connect as connectNats } from "nats";
import { describe, expect, it } from "vitest";

/** The PostgreSQL server the tests use: NARROWCAST_TEST_DATABASE_URL or the local default. */
export function postgresUrl(): string {
  return process.env.NARROWCAST_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
}

/** Runs one statement on a connection of its own (a test's schema set-up and clean-up). */
export async function adminSql(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** True when a missing service must fail the tests rather than skip them. */
export function servicesRequired(): boolean {
  return process.env.NARROWCAST_REQUIRE_SERVICES === "1";
}

/** A URL fit for a log line: any password replaced. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparsable URL>";
  }
}

/** Whether PostgreSQL at `url` accepts a connection and a query within `timeoutMs`. */
export async function postgresAvailable(url = postgresUrl(), timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on("error", () => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs + 500);
  });
  const probe = (async () => {
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch {
      return false;
    }
  })();
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
    void client.end().catch(() => {});
  }
}

/** The NATS server the tests use: NARROWCAST_TEST_NATS_URL or the local default. */
export function natsUrl(): string {
  return process.env.NARROWCAST_TEST_NATS_URL || "nats://127.0.0.1:4222";
}

/** Whether NATS at `url` accepts a connection within `timeoutMs`. */
export async function natsAvailable(url = natsUrl(), timeoutMs = 2000): Promise<boolean> {
  try {
    const nc = await connectNats({ servers: url, timeout: timeoutMs, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers the reachability check of a service and tells whether the suites that need it must
 * be skipped. Reachable: the check passes, nothing is skipped. Unreachable: with
 * NARROWCAST_REQUIRE_SERVICES=1 the check fails (and the dependent suites are skipped, so the
 * one failure says why); otherwise the check is skipped too, with a warning.
 */
export function requireOrSkip(available: boolean, what: string): boolean {
  const required = servicesRequired();
  if (!available && !required) console.warn(`${what} not reachable: skipping`);
  describe(`service: ${what}`, () => {
    it.skipIf(!available && !required)("is reachable", () => {
      expect(available, `${what} not reachable, and NARROWCAST_REQUIRE_SERVICES=1`).toBe(true);
    });
  });
  return !available;
}
