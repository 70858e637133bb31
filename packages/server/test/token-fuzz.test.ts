// Token shapes (rules AUTH-1, AUTH-2, AUTH-3, ERR-2; issue 12 item 1): every JSON type in every
// claim, duplicated claims, huge values, bad base64url, bad headers, missing and extra segments,
// sent over Connect, gRPC and gRPC-Web to a unary RPC and to Subscribe (the fast path and the
// connect-es handler), on the SQLite and the PostgreSQL store. Every answer is the one an oracle
// derived from section 4.2 predicts: Unauthenticated with one narrowcast ErrorInfo (TOKEN_INVALID,
// TOKEN_EXPIRED or TOKEN_MISSING), or success for a token that is in fact valid — never Internal
// or Unknown, and never an error-level line in the server's log.
import { createHmac, randomBytes } from "node:crypto";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ErrorReason, EventService, GroupService, GroupType } from "@narrowcast/gen";
import type { Store } from "../src/store/types.js";
import { PostgresStore } from "../src/store/postgres.js";
import { postgresAvailable, postgresUrl, redact } from "./services.js";
import { AppFixture, PROTOCOLS, TestServer, WAIT_MS, checkError, type Protocol } from "./support.js";

const ID = /^[A-Za-z0-9_.@-]{1,64}$/;
const FAR = 9_999_999_999;
const nowSeconds = () => Math.floor(Date.now() / 1000);

const b64 = (text: string | Buffer) => Buffer.from(text).toString("base64url");

/** A token from raw header and payload JSON text, HMAC-signed with `key` (or a random signature). */
function token(headerJson: string, payloadJson: string, key?: Uint8Array): string {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`;
  const sig = key ? createHmac("sha256", key).update(input).digest() : randomBytes(32);
  return `${input}.${b64(sig)}`;
}

/**
 * A validly signed token whose header segment is written in the standard base64 alphabet
 * (with `+`, `/` and `=`) instead of base64url: not a JWS compact serialization.
 */
function standardAlphabet(key: Uint8Array, payloadJson: string): string {
  for (let n = 0; ; n++) {
    const header = JSON.stringify({ alg: "HS256", k: "~?".repeat(n) });
    const std = Buffer.from(header).toString("base64");
    if (!/[+/]/.test(std) || !std.endsWith("=")) continue;
    const signed = token(header, payloadJson, key).split(".");
    return `${std}.${signed[1]}.${signed[2]}`;
  }
}

/** One value of every JSON type, and odd members of each. */
function jsonValues(valid: unknown): [string, unknown][] {
  return [
    ["valid", valid],
    ["empty string", ""],
    ["65-char string", "x".repeat(65)],
    ["5,000-char string", "y".repeat(5_000)],
    ["string outside GRP-8", "bad id,ü"],
    ["numeric string", "9999999999"],
    ["zero", 0],
    ["negative", -1],
    ["fraction", 0.5],
    ["1e308", 1e308],
    ["far future", FAR],
    ["true", true],
    ["false", false],
    ["null", null],
    ["empty array", []],
    ["array", [valid]],
    ["empty object", {}],
    ["object", { iss: valid, sub: valid }],
  ];
}

type Expectation = "ok" | ErrorReason;

interface Case {
  name: string;
  /** The Authorization header value; undefined sends none. */
  authorization: string | undefined;
  expect: Expectation;
}

/**
 * What section 4.2 says a token with this header and payload gets: the oracle the server is
 * checked against. `signed`: whether the signature is the app secret's HMAC of the token.
 */
function oracle(headerJson: string, payloadJson: string, signed: boolean, appId: string, users: Set<string>): Expectation {
  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const header = parse(headerJson);
  const payload = parse(payloadJson);
  if (!isObject(header) || header.alg !== "HS256" || "crit" in header || "b64" in header) return ErrorReason.TOKEN_INVALID;
  if (!isObject(payload)) return ErrorReason.TOKEN_INVALID;
  const { iss, sub, exp, nbf, iat } = payload;
  const date = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  if (iss !== appId) return ErrorReason.TOKEN_INVALID;
  if (typeof sub !== "string" || !ID.test(sub)) return ErrorReason.TOKEN_INVALID;
  if (!date(exp) || (nbf !== undefined && !date(nbf)) || (iat !== undefined && !date(iat))) return ErrorReason.TOKEN_INVALID;
  if (!signed) return ErrorReason.TOKEN_INVALID;
  if ((nbf as number | undefined) !== undefined && (nbf as number) > nowSeconds()) return ErrorReason.TOKEN_INVALID;
  if ((exp as number) <= nowSeconds()) return ErrorReason.TOKEN_EXPIRED;
  return users.has(sub) ? "ok" : ErrorReason.TOKEN_INVALID;
}

/** Every token shape of the fuzz, with its expected outcome, for an app with user "alice". */
function cases(appId: string, secret: string): Case[] {
  const key = Buffer.from(secret, "base64url");
  const users = new Set(["alice"]);
  const out: Case[] = [];
  const HS = '{"alg":"HS256","typ":"JWT"}';
  const add = (name: string, headerJson: string, payloadJson: string, signed = true) => {
    out.push({
      name,
      authorization: `Bearer ${token(headerJson, payloadJson, signed ? key : undefined)}`,
      expect: oracle(headerJson, payloadJson, signed, appId, users),
    });
  };
  const base = (): Record<string, unknown> => ({ iss: appId, sub: "alice", exp: nowSeconds() + 3600, iat: nowSeconds() });

  // The issue's repro, exactly.
  out.push({
    name: "issue 12 repro: iss true, any signature",
    authorization: `Bearer ${token('{"alg":"HS256"}', '{"iss":true,"sub":"u","exp":9999999999}')}`,
    expect: ErrorReason.TOKEN_INVALID,
  });

  // Every JSON type in every claim, validly signed and forged; and each claim missing.
  const valid: Record<string, unknown> = { iss: appId, sub: "alice", exp: nowSeconds() + 3600, nbf: nowSeconds() - 60, iat: nowSeconds() };
  for (const claim of ["iss", "sub", "exp", "nbf", "iat"]) {
    for (const [label, value] of jsonValues(valid[claim])) {
      const payload = { ...base(), [claim]: value };
      add(`${claim} = ${label} (signed)`, HS, JSON.stringify(payload));
      add(`${claim} = ${label} (forged)`, HS, JSON.stringify(payload), false);
    }
    const missing = base();
    delete missing[claim];
    add(`${claim} missing (signed)`, HS, JSON.stringify(missing));
  }
  // A 1e999 literal parses as Infinity: not a NumericDate.
  add("exp = 1e999", HS, `{"iss":"${appId}","sub":"alice","exp":1e999}`);
  add("nbf = -1e999", HS, `{"iss":"${appId}","sub":"alice","exp":${FAR},"nbf":-1e999}`);
  add("exp in the past", HS, JSON.stringify({ ...base(), exp: nowSeconds() - 10 }));
  add("nbf in the future", HS, JSON.stringify({ ...base(), nbf: nowSeconds() + 3600 }));
  add("unknown user", HS, JSON.stringify({ ...base(), sub: "nobody" }));
  add("other app", HS, JSON.stringify({ ...base(), iss: "app_nonexistent" }));
  add("valid, with extra claims of every type", HS, JSON.stringify({ ...base(), aud: [1, {}], jti: null, x: { y: [true] } }));

  // Duplicated claims: JSON.parse keeps the last, and so must the server (both directions).
  const tail = `"exp":${FAR}`;
  add("iss duplicated, last true", HS, `{"iss":"${appId}","iss":true,"sub":"alice",${tail}}`);
  add("iss duplicated, last valid", HS, `{"iss":true,"iss":"${appId}","sub":"alice",${tail}}`);
  add("sub duplicated, last object", HS, `{"iss":"${appId}","sub":"alice","sub":{"a":1},${tail}}`);
  add("sub duplicated, last valid", HS, `{"iss":"${appId}","sub":[1],"sub":"alice",${tail}}`);
  add("exp duplicated, last string", HS, `{"iss":"${appId}","sub":"alice",${tail},"exp":"soon"}`);
  add("exp duplicated, last past", HS, `{"iss":"${appId}","sub":"alice",${tail},"exp":1}`);
  add("alg duplicated, last none", '{"alg":"HS256","alg":"none"}', JSON.stringify(base()));
  add("alg duplicated, last HS256", '{"alg":"none","alg":"HS256"}', JSON.stringify(base()));

  // Payloads that are not JSON objects, or not JSON, or not UTF-8.
  for (const [label, json] of [
    ["array payload", "[]"],
    ["null payload", "null"],
    ["string payload", '"x"'],
    ["number payload", "1"],
    ["empty payload", ""],
    ["truncated JSON", `{"iss":"${appId}","sub":"alice"`],
    ["deeply nested", `{"iss":"${appId}","sub":"alice","exp":${FAR},"x":${"[".repeat(2000)}${"]".repeat(2000)}}`],
  ] as const) {
    add(label, HS, json);
  }
  const latin1 = Buffer.concat([Buffer.from(`{"iss":"${appId}","sub":"ali`), Buffer.from([0xff, 0xfe]), Buffer.from(`ce","exp":${FAR}}`)]);
  out.push({
    name: "payload not UTF-8",
    authorization: `Bearer ${b64(HS)}.${b64(latin1)}.${b64(createHmac("sha256", key).update(`${b64(HS)}.${b64(latin1)}`).digest())}`,
    expect: ErrorReason.TOKEN_INVALID,
  });

  // Headers: every JSON type for alg, other algorithms, crit and b64.
  for (const [label, header] of [
    ["alg none", '{"alg":"none"}'],
    ["alg HS512", '{"alg":"HS512"}'],
    ["alg RS256", '{"alg":"RS256"}'],
    ["alg lower case", '{"alg":"hs256"}'],
    ["alg true", '{"alg":true}'],
    ["alg number", '{"alg":256}'],
    ["alg null", '{"alg":null}'],
    ["alg array", '{"alg":["HS256"]}'],
    ["alg object", '{"alg":{"HS256":1}}'],
    ["no alg", '{"typ":"JWT"}'],
    ["header array", '["HS256"]'],
    ["header string", '"HS256"'],
    ["header null", "null"],
    ["header not JSON", "{alg:HS256}"],
    ["crit exp", '{"alg":"HS256","crit":["exp"]}'],
    ["unencoded payload", '{"alg":"HS256","b64":false,"crit":["b64"]}'],
    ["typ odd (ignored)", '{"alg":"HS256","typ":123}'],
    ["no typ", '{"alg":"HS256"}'],
  ] as const) {
    add(`header: ${label}`, header, JSON.stringify(base()));
  }

  // Segments and base64url.
  const good = token(HS, JSON.stringify(base()), key);
  const [h, p, s] = good.split(".");
  const raw: [string, string][] = [
    ["valid token", good],
    ["empty bearer", ""],
    ["one segment", h],
    ["two segments", `${h}.${p}`],
    ["empty signature", `${h}.${p}.`],
    ["four segments", `${good}.${s}`],
    ["five segments", `${good}..`],
    ["empty segments", ".."],
    ["only dots", "....."],
    ["padded base64", `${h}=.${p}.${s}`],
    ["standard base64 alphabet", standardAlphabet(key, JSON.stringify(base()))],
    ["percent in payload", `${h}.%${p}.${s}`],
    ["payload length 1 mod 4", `${h}.${p}${p.length % 4 === 0 ? "A" : p.length % 4 === 2 ? "AAA" : "AA"}.${s}`],
    ["signature of 1 char", `${h}.${p}.A`],
    ["signature of junk", `${h}.${p}.!!!!`],
    ["signature bit-flipped", `${h}.${p}.${s.startsWith("A") ? "B" : "A"}${s.slice(1)}`],
    ["spaces inside", `${h} .${p}.${s}`],
    // Validly signed and otherwise valid: refused for its length alone.
    ["token over 8 KiB", token(HS, JSON.stringify({ ...base(), pad: "z".repeat(6_200) }), key)],
    ["token of 8 KiB of dots", ".".repeat(8_200)],
    ["token just under 8 KiB, huge sub", token(HS, JSON.stringify({ ...base(), sub: "a".repeat(5_500) }), key)],
  ];
  for (const [name, value] of raw) {
    out.push({ name: `raw: ${name}`, authorization: `Bearer ${value}`, expect: name === "valid token" ? "ok" : ErrorReason.TOKEN_INVALID });
  }

  // The Authorization header itself.
  out.push({ name: "no Authorization header", authorization: undefined, expect: ErrorReason.TOKEN_MISSING });
  out.push({ name: "Basic scheme", authorization: `Basic ${b64("alice:pw")}`, expect: ErrorReason.TOKEN_INVALID });
  out.push({ name: "scheme only", authorization: "Bearer", expect: ErrorReason.TOKEN_INVALID });
  out.push({ name: "lower-case scheme", authorization: `bearer ${good}`, expect: "ok" });
  return out;
}

/** The outcome of one call: "ok", or the error it ended with. */
async function outcome(call: () => Promise<unknown>): Promise<"ok" | ConnectError> {
  try {
    await call();
    return "ok";
  } catch (err) {
    return ConnectError.from(err);
  }
}

interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/** A pino logger at "trace" whose lines are kept, parsed. */
function capturingLogger(lines: LogLine[]) {
  return pino({ level: "trace" }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
}

const ERROR_LEVEL = 50;

function tokenFuzz(storeName: string, makeStore: () => Promise<Store | undefined>, enabled: boolean, cleanup?: () => Promise<void>) {
  describe.skipIf(!enabled)(`token shapes on the ${storeName} store`, () => {
    const lines: LogLine[] = [];
    let server: TestServer;
    beforeAll(async () => {
      const store = await makeStore();
      server = await TestServer.start({ logger: capturingLogger(lines), ...(store ? { store } : {}) });
    });
    afterAll(async () => {
      await server?.close();
      await cleanup?.();
    });

    describe.each(PROTOCOLS)("%s", (protocol: Protocol) => {
      it("every token shape gets the predicted answer on ListGroups and Subscribe (fast path and connect-es); nothing is logged at error level", async () => {
        const app = await AppFixture.create(server, protocol, { users: ["alice"] });
        await app.group(GroupType.WORK, "alice");
        const transport = server.transport(protocol);
        const groups = createClient(GroupService, transport);
        const events = createClient(EventService, transport);
        const all = cases(app.appId, app.secret);
        expect(all.length).toBeGreaterThan(200);
        expect(all.filter((c) => c.expect === "ok").length, "some shapes are valid tokens").toBeGreaterThan(3);
        expect(all.filter((c) => c.expect === ErrorReason.TOKEN_EXPIRED).length).toBeGreaterThan(0);

        const calls = (c: Case) => {
          const headers: Record<string, string> = c.authorization === undefined ? {} : { authorization: c.authorization };
          const subscribe = (timeoutMs?: number) => async () => {
            // A valid token gets a stream: the first item (ready) is enough, then it is closed.
            for await (const _ of events.subscribe({}, { headers, timeoutMs, signal: AbortSignal.timeout(WAIT_MS) })) break;
          };
          return {
            "GroupService/ListGroups": () => groups.listGroups({}, { headers }),
            "EventService/Subscribe (fast path)": subscribe(),
            "EventService/Subscribe (connect-es, with a timeout)": subscribe(WAIT_MS),
          };
        };

        const failures: string[] = [];
        const before = lines.length;
        // A few cases at a time: quicker, and concurrent lookups of the same bad token.
        for (let i = 0; i < all.length; i += 8) {
          await Promise.all(
            all.slice(i, i + 8).map(async (c) => {
              for (const [rpc, call] of Object.entries(calls(c))) {
                const got = await outcome(call);
                const want = c.expect === "ok" ? "ok" : ErrorReason[c.expect];
                if (got === "ok" || c.expect === "ok") {
                  if (got !== want) failures.push(`${c.name} → ${rpc}: want ${want}, got ${got === "ok" ? "ok" : `${Code[got.code]} ${got.rawMessage}`}`);
                  continue;
                }
                try {
                  checkError(got, Code.Unauthenticated, c.expect);
                } catch (err) {
                  failures.push(`${c.name} → ${rpc}: want ${want}: ${(err as Error).message.split("\n")[0]} (${Code[got.code]} ${got.rawMessage})`);
                }
              }
            }),
          );
        }
        expect(failures).toEqual([]);
        const errors = lines.slice(before).filter((l) => l.level >= ERROR_LEVEL);
        expect(errors.map((l) => `${l.msg}: ${JSON.stringify(l).slice(0, 300)}`)).toEqual([]);
        // The log does get the ordinary rejections (at info), so the capture works.
        expect(lines.slice(before).some((l) => l.msg === "rpc failed" && l.reason === "TOKEN_INVALID")).toBe(true);
      });

      it("issue 12 repro: header {alg: HS256}, payload {iss: true, sub: u, exp: 9999999999}, any signature → TOKEN_INVALID", async () => {
        const before = lines.length;
        const bad = token('{"alg":"HS256"}', '{"iss":true,"sub":"u","exp":9999999999}');
        const groups = createClient(GroupService, server.transport(protocol, { token: bad }));
        const got = await outcome(() => groups.listGroups({}));
        expect(got).toBeInstanceOf(ConnectError);
        checkError(got as ConnectError, Code.Unauthenticated, ErrorReason.TOKEN_INVALID);
        expect(lines.slice(before).filter((l) => l.level >= ERROR_LEVEL)).toEqual([]);
      });

      it("a validly signed token whose sub is not a string is TOKEN_INVALID, and a valid one still works after it", async () => {
        const app = await AppFixture.create(server, protocol, { users: ["alice"] });
        const key = Buffer.from(app.secret, "base64url");
        const before = lines.length;
        for (const sub of [true, 7, null, {}, ["alice"], { sub: "alice" }]) {
          const t = token('{"alg":"HS256"}', JSON.stringify({ iss: app.appId, sub, exp: FAR }), key);
          const groups = createClient(GroupService, server.transport(protocol, { token: t }));
          const events = createClient(EventService, server.transport(protocol, { token: t }));
          checkError((await outcome(() => groups.listGroups({}))) as ConnectError, Code.Unauthenticated, ErrorReason.TOKEN_INVALID);
          const sub1 = await outcome(async () => {
            for await (const _ of events.subscribe({}, { signal: AbortSignal.timeout(WAIT_MS) })) break;
          });
          checkError(sub1 as ConnectError, Code.Unauthenticated, ErrorReason.TOKEN_INVALID);
        }
        expect(lines.slice(before).filter((l) => l.level >= ERROR_LEVEL)).toEqual([]);
        const ok = token('{"alg":"HS256"}', JSON.stringify({ iss: app.appId, sub: "alice", exp: FAR }), key);
        // Twice: the second is served from the verified-signature cache.
        for (let i = 0; i < 2; i++) {
          const res = await createClient(GroupService, server.transport(protocol, { token: ok })).listGroups({});
          expect(res.groups).toEqual([]);
        }
      });
    });
  });
}

tokenFuzz("SQLite", async () => undefined, true);

const pgUrl = postgresUrl();
const pgReady = await postgresAvailable(pgUrl);
if (!pgReady) {
  if (process.env.NARROWCAST_REQUIRE_SERVICES === "1") {
    describe("service: PostgreSQL", () => {
      it("is reachable", () => expect(pgReady, `PostgreSQL at ${redact(pgUrl)} not reachable`).toBe(true));
    });
  } else {
    console.warn(`PostgreSQL at ${redact(pgUrl)} not reachable: skipping its token fuzz`);
  }
}
const schema = `nc_test_${randomBytes(6).toString("hex")}`;
tokenFuzz(
  "PostgreSQL",
  async () => {
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    return new PostgresStore({ connectionString: pgUrl, schema, max: 4 });
  },
  pgReady,
  async () => {
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  },
);
