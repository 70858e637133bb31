// The packages as a user gets them (issue 11): every workspace package is built and packed, the
// tarballs are installed into a fresh project outside the workspace (os.tmpdir()), and from there
// (a) a plain Node.js ESM script (also an app backend verifying a webhook), (b) a CommonJS script
// (require of the ESM packages), (c) a TypeScript project checked under moduleResolution node16 and bundler, and (d) an esbuild bundle
// for browsers each create clients, send a targeted message to the compiled reference server
// (bin/narrowcast-server.js, as `npm start` runs it) and receive it on a Subscribe stream. attw
// checks each tarball's type exports; the installed bins run: `narrowcast`, `narrowcast-server`
// (asking for the optional pg) and `narrowcast-conformance` (the targeted-message cases).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, transform } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAndPack, cleanEnv, npm, repoRoot, run, startCompiledServer, withDistLock, workspaceNames, type ChildServer } from "./packages.js";

const fixture = fileURLToPath(new URL("./fixture", import.meta.url));
const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
const attw = join(repoRoot, "node_modules", "@arethetypeswrong", "cli", "dist", "index.js");

let tmp: string;
let project: string;
let tarballs: string[];
let server: ChildServer | undefined;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "narrowcast-consumers-"));
  project = join(tmp, "project");
  await withDistLock(async () => {
    tarballs = await buildAndPack(join(tmp, "tarballs"));
    // Started while the lock is held: nobody rebuilds dist/ under it as it loads.
    server = await startCompiledServer("consumer-test-admin-key");
  });
  cpSync(fixture, project, { recursive: true });
  // Install scripts are skipped: the native SQLite build is not what this test is about (the
  // compiled server above runs on the workspace's own better-sqlite3).
  await npm(["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", ...tarballs, "@types/node@^20.19.0"], project);
}, 240_000);

afterAll(async () => {
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The round trip's outcome every consumer must print: bob got the targeted message, carol did not. */
const roundTrip = {
  receiverIds: ["bob"],
  received: { bob: ["psst, bob only", "that was all"], carol: ["that was all"] },
};

function lastJsonLine(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

describe("packed packages in a fresh project", () => {
  it("installs four tarballs, their peers, and no development tools or optional backends", () => {
    expect(tarballs.map((t) => t.slice(t.lastIndexOf("/") + 1)).sort()).toEqual([
      "narrowcast-client-0.2.0.tgz",
      "narrowcast-conformance-0.2.0.tgz",
      "narrowcast-gen-0.2.0.tgz",
      "narrowcast-server-0.2.0.tgz",
    ]);
    const installed = (name: string) => existsSync(join(project, "node_modules", name, "package.json"));
    for (const name of ["@narrowcast/gen", "@narrowcast/client", "@narrowcast/server", "@narrowcast/conformance", "@bufbuild/protobuf", "@connectrpc/connect"]) {
      expect(installed(name), name).toBe(true);
    }
    for (const name of ["tsx", "typescript", "pg", "nats"]) expect(installed(name), name).toBe(false);
    // Only dist/ and bin/ are shipped: no TypeScript sources.
    expect(existsSync(join(project, "node_modules", "@narrowcast", "client", "src"))).toBe(false);
    expect(existsSync(join(project, "node_modules", "@narrowcast", "client", "dist", "index.d.ts"))).toBe(true);
  });

  it("every file an installed package.json names (exports, imports, bin) is in its tarball, none in src/", () => {
    const targets = (value: unknown): string[] =>
      typeof value === "string" ? [value] : value && typeof value === "object" ? Object.values(value).flatMap(targets) : [];
    for (const name of workspaceNames) {
      const dir = join(project, "node_modules", name);
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
      const named = [pkg.exports, pkg.imports, pkg.bin].flatMap(targets);
      expect(named.length, name).toBeGreaterThan(0);
      for (const file of named) {
        expect(file, name).not.toMatch(/(^|\/)src\//);
        // A wildcard target ("./dist/narrowcast/v1/*.js") names a directory of files.
        expect(existsSync(join(dir, file.includes("*") ? file.slice(0, file.lastIndexOf("/")) : file)), `${name}: ${file}`).toBe(true);
      }
    }
  });

  it("@narrowcast/server's root entry loads without pg, nats or better-sqlite3; /postgres asks for pg", async () => {
    const script = `
      import { createRequire } from "node:module";
      const server = await import("@narrowcast/server");
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => /better-sqlite3|node_modules.(pg|nats)./.test(f));
      const postgres = await import("@narrowcast/server/postgres").then(() => "loaded", (e) => e.code + " " + e.message);
      // The control: the embedded store's subpath does load better-sqlite3 (its JavaScript; the
      // native part is not built here, and is only needed on first use).
      await import("@narrowcast/server/sqlite");
      const sqliteLoaded = Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes("better-sqlite3"));
      console.log(JSON.stringify({ startServer: typeof server.startServer, loaded, postgres, sqliteLoaded }));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], project);
    const result = lastJsonLine(stdout);
    expect(result).toMatchObject({ startServer: "function", loaded: [], sqliteLoaded: true });
    expect(result.postgres).toMatch(/^ERR_MODULE_NOT_FOUND .*'pg'/);
  });

  it("the installed narrowcast-server bin asks for pg when given --database-url without it", async () => {
    const result = await npm(["exec", "--", "narrowcast-server", "--database-url", "postgres://127.0.0.1:1/none", "--admin-key", "k"], project, {
      check: false,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--database-url needs the optional dependency "pg": npm install pg');
  });

  it("(a) a plain Node.js ESM script: the SDK and the generated stubs", async () => {
    const { stdout } = await run(process.execPath, ["esm.mjs", server!.url, server!.adminKey], project);
    expect(lastJsonLine(stdout)).toEqual({ ...roundTrip, serverVersion: expect.stringMatching(/0\.2\.0$/), adminService: "narrowcast.admin.v1.AdminService", webhook: "member.joined" });
  });

  it("(b) CommonJS: require() of the ESM packages (Node.js 20.19+), over gRPC", async () => {
    const { stdout } = await run(process.execPath, ["cjs.cjs", server!.url, server!.adminKey], project);
    expect(lastJsonLine(stdout)).toEqual({ ...roundTrip, receiverNotMember: "RECEIVER_NOT_MEMBER" });
  });

  it("(c) TypeScript: type-checks with moduleResolution node16 and bundler, then runs", async () => {
    for (const config of ["tsconfig.node16.json", "tsconfig.bundler.json"]) {
      const result = await run(process.execPath, [tsc, "-p", join("ts", config)], project, { check: false });
      expect(result.stdout + result.stderr, config).toBe("");
      expect(result.code, config).toBe(0);
    }
    // Node.js 20 cannot run TypeScript: esbuild strips the types, imports stay as they are.
    const source = readFileSync(join(project, "ts", "consumer.ts"), "utf8");
    const { code } = await transform(source, { loader: "ts", format: "esm", target: "node20" });
    writeFileSync(join(project, "ts", "consumer.mjs"), code);
    const { stdout } = await run(process.execPath, [join("ts", "consumer.mjs"), server!.url, server!.adminKey], project);
    expect(lastJsonLine(stdout)).toEqual({
      ...roundTrip,
      plan: "ULTIMATE",
      reason: "RECEIVER_NOT_MEMBER",
      service: "narrowcast.v1.ServerService",
      cases: true,
      port: 0,
    });
  });

  it("(d) a browser bundle of @narrowcast/client/web (esbuild, platform=browser), over Connect and gRPC-Web", async () => {
    const outfile = join(project, "browser-bundle.mjs");
    const result = await build({
      absWorkingDir: project,
      entryPoints: ["browser.mjs"],
      bundle: true,
      platform: "browser",
      format: "esm",
      outfile,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((f) => f.includes("@narrowcast/client/dist/web.js"))).toBe(true);
    expect(inputs.filter((f) => /connect-node|better-sqlite3|node_modules\/commander/.test(f))).toEqual([]);
    const { stdout } = await run(process.execPath, ["run-browser-bundle.mjs", outfile, server!.url, server!.adminKey], project);
    expect(lastJsonLine(stdout)).toEqual({ connect: roundTrip, "grpc-web": roundTrip });
  });

  it("attw finds no problem in any tarball's type exports (ESM-only profile)", async () => {
    const results = await Promise.all(
      tarballs.map((tarball) =>
        run(process.execPath, [attw, tarball, "--profile", "esm-only", "--format", "table-flipped"], project, {
          check: false,
          env: cleanEnv({ NO_COLOR: "1", FORCE_COLOR: "0" }),
        }),
      ),
    );
    results.forEach((result, i) => expect(result.code, `${tarballs[i]}\n${result.stdout}${result.stderr}`).toBe(0));
  });

  it("the installed narrowcast CLI (compiled) creates an app", async () => {
    const { stdout } = await npm(["exec", "--", "narrowcast", "admin", "create-app", "--plan", "ultimate", "--name", "cli", "--json"], project, {
      env: cleanEnv({ NARROWCAST_URL: server!.url, NARROWCAST_ADMIN_KEY: server!.adminKey }),
    });
    expect(lastJsonLine(stdout)).toMatchObject({ name: "cli", plan: "PLAN_ULTIMATE" });
  });

  it("npx narrowcast-conformance runs from the installed tarball", async () => {
    const result = await npm(
      ["exec", "--", "narrowcast-conformance", "--base-url", server!.url, "--admin-key", server!.adminKey, "--filter", "TGT", "--protocol", "connect", "--quiet"],
      project,
      { check: false },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\b[1-9]\d* passed\b/);
    expect(result.stdout).toMatch(/\b0 failed\b/);
  });
});
