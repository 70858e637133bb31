// Headless Chromium against the server from web pages on other origins (issue 11): the page's
// @narrowcast/client/web clients (an esbuild bundle) call the server over Connect and over
// gRPC-Web, unary (SendMessage) and streaming (Subscribe), through real CORS. The receiver's page
// gets the targeted message, the non-receiver's page does not (behind a barrier message every
// member gets), and a page from an origin the server does not allow is refused.
// Debian's chromium is installed by scripts/setup-test-deps.sh; without it (and without
// NARROWCAST_REQUIRE_SERVICES=1) the test is skipped.
import http from "node:http";
import type net from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminClient } from "@narrowcast/client";
import { startServer, type RunningServer } from "@narrowcast/server";
import { setupSystemDeps } from "../system-deps.js";
import type { PageApi } from "./page.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const WAIT_MS = 10_000;

const missing = await setupSystemDeps("chromium");
const required = process.env.NARROWCAST_REQUIRE_SERVICES === "1";
if (missing && !required) console.warn(`chromium not available (${missing}): skipping`);

describe("Chromium", () => {
  it.skipIf(missing !== undefined && !required)("is installed by scripts/setup-test-deps.sh", () => {
    expect(missing, "scripts/setup-test-deps.sh chromium failed, and NARROWCAST_REQUIRE_SERVICES=1").toBeUndefined();
  });
});

/** Serves the test page and its bundle; each instance is an origin of its own (its port). */
async function servePage(bundle: string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === "/bundle.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    } else if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><title>narrowcast</title><script src="/bundle.js"></script>');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A page of its own browser context (its own connections), with the CORS errors it logged. */
async function openPage(browser: Browser, origin: string): Promise<{ page: Page; context: BrowserContext; corsErrors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const corsErrors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && msg.text().includes("CORS policy")) corsErrors.push(msg.text());
  });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => "narrowcast" in globalThis);
  return { page, context, corsErrors };
}

/** Calls window.narrowcast[method](...args) in the page. */
function call<M extends keyof PageApi>(page: Page, method: M, ...args: Parameters<PageApi[M]>): Promise<Awaited<ReturnType<PageApi[M]>>> {
  return page.evaluate(
    ([m, a]) => (globalThis as unknown as { narrowcast: Record<string, (...x: unknown[]) => unknown> }).narrowcast[m](...a),
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<PageApi[M]>>>;
}

describe.skipIf(missing !== undefined)("web pages on other origins", () => {
  let browser: Browser;
  let allowedSite: Awaited<ReturnType<typeof servePage>>;
  let otherSite: Awaited<ReturnType<typeof servePage>>;
  let server: RunningServer;

  beforeAll(async () => {
    const bundled = await build({
      entryPoints: [fileURLToPath(new URL("page.ts", import.meta.url))],
      bundle: true,
      write: false,
      format: "iife",
      platform: "browser",
      target: "es2022",
      // The workspace's sources, as the monorepo's tests use them (the packages' dist may be absent):
      // esbuild maps the packages to them through tsconfig.json "paths".
      tsconfig: fileURLToPath(new URL("../../tsconfig.json", import.meta.url)),
      logLevel: "silent",
    });
    const bundle = bundled.outputFiles[0].text;
    allowedSite = await servePage(bundle);
    otherSite = await servePage(bundle);
    server = await startServer({ port: 0, corsOrigins: [allowedSite.origin] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await allowedSite?.close();
    await otherSite?.close();
  });

  /** A fresh app with a WORK group of alice (sender), bob (receiver) and carol; their tokens. */
  async function fixture(groupId: string) {
    const admin = createAdminClient({ baseUrl: server.url, adminKey: server.adminKey });
    try {
      const app = await admin.createApp({ name: "browser", plan: "ultimate" });
      const users = ["alice", "bob", "carol"];
      await admin.importUsers(app.appId, users);
      await admin.createGroup(app.appId, { type: "work", groupId, ownerId: "alice", memberIds: ["bob", "carol"] });
      const tokens: Record<string, string> = {};
      for (const u of users) tokens[u] = await admin.issueUserToken(app.appId, u);
      return tokens;
    } finally {
      await admin.close();
    }
  }

  for (const protocol of ["connect", "grpc-web"] as const) {
    it(`over ${protocol}: the receiver's page gets the targeted message, the non-receiver's does not`, async () => {
      const groupId = `g-${protocol}`;
      const tokens = await fixture(groupId);
      const pages = Object.fromEntries(
        await Promise.all(["alice", "bob", "carol"].map(async (u) => [u, await openPage(browser, allowedSite.origin)] as const)),
      );
      try {
        for (const u of ["alice", "bob", "carol"]) {
          expect(await call(pages[u].page, "connect", u, server.url, tokens[u], protocol), `${u}'s Subscribe stream`).toBeUndefined();
        }
        expect(await call(pages.alice.page, "send", "alice", groupId, "for bob only", "bob")).toBeUndefined();
        // The barrier: every member gets it, after anything sent before it (rule EVT-8).
        expect(await call(pages.alice.page, "send", "alice", groupId, "barrier")).toBeUndefined();

        const bob = await call(pages.bob.page, "receivedUntil", "bob", "barrier", WAIT_MS);
        expect(bob).toEqual([
          { text: "for bob only", receiverIds: ["bob"] },
          { text: "barrier", receiverIds: [] },
        ]);
        const carol = await call(pages.carol.page, "receivedUntil", "carol", "barrier", WAIT_MS);
        expect(carol).toEqual([{ text: "barrier", receiverIds: [] }]);
        for (const u of ["alice", "bob", "carol"]) expect(pages[u].corsErrors, u).toEqual([]);
      } finally {
        for (const { page, context } of Object.values(pages)) {
          await call(page, "closeAll").catch(() => {});
          await context.close();
        }
      }
    });

    it(`over ${protocol}: a page from an origin the server does not allow is refused`, async () => {
      const groupId = `refused-${protocol}`;
      const tokens = await fixture(groupId);
      const { page, context, corsErrors } = await openPage(browser, otherSite.origin);
      try {
        const stream = await call(page, "connect", "alice", server.url, tokens.alice, protocol);
        expect(stream, "the Subscribe stream must fail").toBeDefined();
        const unary = await call(page, "send", "alice", groupId, "hello");
        expect(unary, "SendMessage must fail").toBeDefined();
        expect(corsErrors.length, "Chromium reports the CORS refusal").toBeGreaterThan(0);
        expect(corsErrors.join("\n")).toContain(otherSite.origin);
      } finally {
        await call(page, "closeAll").catch(() => {});
        await context.close();
      }
    });
  }
});
