// CORS over the wire (issue 11): preflights from allowed and other origins, the headers of real
// calls on every path (connect-es handler, the Subscribe fast path, errors, unknown paths), the
// default (no cross-origin access) and the origin list's parsing. A real browser runs in
// test/browser/; these tests send the headers a browser would, with Node's fetch.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupType } from "@narrowcast/gen";
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, CorsConfigError, parseCorsOrigins } from "../src/http/cors.js";
import { AppFixture, TestServer } from "./support.js";

const ALLOWED = "http://app.example:8000";
const OTHER = "http://evil.example";

function preflight(url: string, origin: string, method = "POST", headers = "authorization,content-type,connect-protocol-version") {
  return fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers } });
}

/** A Connect JSON unary call, as connect-web sends it from a page on `origin`. */
function connectCall(url: string, origin: string | undefined, body: unknown, token?: string) {
  const headers: Record<string, string> = { "content-type": "application/json", "connect-protocol-version": "1" };
  if (origin) headers.origin = origin;
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
}

/** One enveloped JSON message, the request body of a Connect streaming call. */
function envelope(json: unknown): Uint8Array {
  const data = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(5 + data.length);
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

describe("CORS with allowed origins", () => {
  let server: TestServer;
  let info: string;
  beforeAll(async () => {
    server = await TestServer.start({ corsOrigins: `${ALLOWED}, http://second.example` });
    info = `${server.url}/narrowcast.v1.ServerService/GetServerInfo`;
  });
  afterAll(() => server.close());

  it("answers a preflight from an allowed origin with 204 and every header Connect and gRPC-Web send", async () => {
    const res = await preflight(info, ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(res.headers.get("access-control-allow-methods")).toBe("POST, GET");
    const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase().split(", ");
    for (const h of ["authorization", "content-type", "connect-protocol-version", "connect-timeout-ms", "grpc-timeout", "x-grpc-web", "x-user-agent"]) {
      expect(allowed).toContain(h);
    }
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    expect(res.headers.get("vary")).toBe("Origin");
  });

  it("refuses a preflight from another origin with 403 and no Access-Control-* header", async () => {
    const res = await preflight(info, OTHER);
    expect(res.status).toBe(403);
    for (const [name] of res.headers) expect(name).not.toMatch(/^access-control-/);
  });

  it("exposes the status headers on a call from an allowed origin, and nothing to another origin", async () => {
    const ok = await connectCall(info, ALLOWED, {});
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    const exposed = ok.headers.get("access-control-expose-headers")!.split(", ");
    for (const h of ["Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "X-Request-Id"]) expect(exposed).toContain(h);

    const other = await connectCall(info, OTHER, {});
    expect(other.status).toBe(200); // served (no cookies are involved), but the browser gets no access
    expect(other.headers.get("access-control-allow-origin")).toBeNull();

    const noOrigin = await connectCall(info, undefined, {});
    expect(noOrigin.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("sets the headers on errors, unknown paths and the Subscribe fast path", async () => {
    const denied = await connectCall(`${server.url}/narrowcast.v1.GroupService/GetGroup`, ALLOWED, { groupId: "g" });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe(ALLOWED);

    const unknown = await connectCall(`${server.url}/no.Such/Method`, ALLOWED, {});
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("access-control-allow-origin")).toBe(ALLOWED);

    const app = await AppFixture.create(server, "connect", { users: ["alice"] });
    await app.group(GroupType.WORK, "alice");
    const abort = new AbortController();
    const stream = await fetch(`${server.url}/narrowcast.v1.EventService/Subscribe`, {
      method: "POST",
      headers: { origin: ALLOWED, "content-type": "application/connect+json", "connect-protocol-version": "1", authorization: `Bearer ${app.user("alice").token}` },
      body: Buffer.from(envelope({})),
      signal: abort.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(stream.headers.get("access-control-expose-headers")).toContain("Grpc-Status");
    abort.abort();
  });
});

describe("CORS by default", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start();
  });
  afterAll(() => server.close());

  it("allows no origin: preflights get 403, calls no Access-Control-Allow-Origin", async () => {
    const url = `${server.url}/narrowcast.v1.ServerService/GetServerInfo`;
    expect((await preflight(url, ALLOWED)).status).toBe(403);
    expect((await connectCall(url, ALLOWED, {})).headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("CORS for any origin", () => {
  it('answers "*" to every origin', async () => {
    const server = await TestServer.start({ corsOrigins: ["*"] });
    try {
      const url = `${server.url}/narrowcast.v1.ServerService/GetServerInfo`;
      const res = await preflight(url, OTHER, "POST", "authorization");
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      // A "*" in Allow-Headers would not cover Authorization: it is listed by name.
      expect(res.headers.get("access-control-allow-headers")).toContain("Authorization");
      expect((await connectCall(url, OTHER, {})).headers.get("access-control-allow-origin")).toBe("*");
    } finally {
      await server.close();
    }
  });
});

describe("parseCorsOrigins", () => {
  it("takes comma-separated exact origins and *", () => {
    expect(parseCorsOrigins(" https://a.example , http://b.example:8080,,*")).toEqual(["https://a.example", "http://b.example:8080", "*"]);
    expect(parseCorsOrigins(undefined)).toEqual([]);
    expect(parseCorsOrigins("")).toEqual([]);
  });

  it("rejects what a browser never sends as an Origin", () => {
    for (const bad of ["app.example", "https://a.example/", "https://a.example/path", "https://A.example", "https://a.example:443", "not a url"]) {
      expect(() => parseCorsOrigins(bad), bad).toThrow(CorsConfigError);
    }
  });

  it("lists the headers connect-web and gRPC-Web clients use", () => {
    expect(CORS_ALLOWED_HEADERS).toContain("Authorization");
    expect(CORS_EXPOSED_HEADERS).toContain("Grpc-Status-Details-Bin");
  });
});
