// Rules ERR-2 and ERR-4 under random input: every RPC of every service gets requests with random
// field values (empty, oversized, malformed IDs, undefined enum values, long lists, random nested
// messages) and random bytes; no answer may be Internal or Unknown, and the server keeps serving.
// Seeded, so a failure reproduces.
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toBinary, type DescField, type DescMessage, type DescService, type Message } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ConversationService, EventService, GroupService, GroupType, MessageService, ServerService } from "@narrowcast/gen";
import { AdminService, Plan } from "@narrowcast/gen/admin";
import { startServer, type RunningServer } from "@narrowcast/server";

const ITERATIONS = 25;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class RandomRequests {
  constructor(
    private readonly random: () => number,
    /** Real IDs (app, users, group, message), so some requests get past validation. */
    private readonly known: string[],
  ) {}

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  string(): string {
    switch (this.int(6)) {
      case 0:
        return "";
      case 1:
        return this.pick(this.known);
      case 2:
        return this.pick(this.known);
      case 3:
        return "x".repeat(this.pick([1, 64, 65, 129, 13_000]));
      case 4:
        return this.pick(["bad id", "ü", "../..", "\u0000", "e-1", "e99999999999", "e1"]);
      default:
        return Math.random().toString(36).slice(2);
    }
  }

  private scalar(type: ScalarType): unknown {
    switch (type) {
      case ScalarType.STRING:
        return this.string();
      case ScalarType.BOOL:
        return this.random() < 0.5;
      case ScalarType.BYTES:
        return new Uint8Array(this.pick([0, 3, 13_000])).map(() => this.int(256));
      case ScalarType.DOUBLE:
      case ScalarType.FLOAT:
        return this.pick([0, -1, 91, 1e308, Number.NaN, 12.5]);
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        return this.pick([0n, 1n, 2n, 50n, 18446744073709551615n]);
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
        return this.pick([0n, -1n, 9223372036854775807n]);
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        return this.pick([0, 1, 20, 101, 300, 4294967295]);
      default:
        return this.pick([0, -1, 1, 2147483647]);
    }
  }

  private value(field: DescField, depth: number): unknown {
    switch (field.fieldKind) {
      case "scalar":
        return this.scalar(field.scalar);
      case "enum":
        return this.pick([...field.enum.values.map((v) => v.number), 99, -5]);
      case "message":
        return depth > 3 ? undefined : this.message(field.message, depth + 1);
      case "list": {
        const n = this.pick([0, 1, 2, 3, 51]);
        const items: unknown[] = [];
        for (let i = 0; i < n; i++) {
          const item =
            field.listKind === "scalar"
              ? this.scalar(field.scalar)
              : field.listKind === "enum"
                ? this.pick(field.enum.values).number
                : depth > 3
                  ? undefined
                  : this.message(field.message, depth + 1);
          if (item !== undefined) items.push(n === 51 && field.listKind === "scalar" ? this.pick(this.known) : item);
        }
        return items;
      }
      case "map":
        return {};
    }
  }

  message(schema: DescMessage, depth = 0): Message {
    const msg = create(schema) as unknown as Record<string, unknown>;
    for (const field of schema.fields) {
      if (this.random() < 0.3) continue;
      const value = this.value(field, depth);
      if (value === undefined) continue;
      if (field.oneof) msg[field.oneof.localName] = { case: field.localName, value };
      else msg[field.localName] = value;
    }
    return msg as unknown as Message;
  }
}

describe("random requests never get Internal or Unknown (ERR-2, ERR-4)", () => {
  let server: RunningServer;
  /** Real IDs of the users' app; the admin fuzzer gets those of an app of its own (see below). */
  const known: string[] = [];
  const adminKnown: string[] = [];
  let adminHeaders: Record<string, string>;
  let userHeaders: Record<string, string>;

  /** An app with three users, a group and a message; returns its IDs and alice's token. */
  async function seedApp(name: string) {
    const admin = createClient(AdminService, createConnectTransport({ baseUrl: server.url, httpVersion: "2" }));
    const { app } = await admin.createApp({ name, plan: Plan.ULTIMATE }, { headers: adminHeaders });
    const appId = app!.appId;
    await admin.importUsers({ appId, users: [{ userId: "alice" }, { userId: "bob" }, { userId: "carol" }] }, { headers: adminHeaders });
    const { group } = await admin.createGroup(
      { appId, type: GroupType.WORK, groupId: "g1", ownerId: "alice", memberIds: ["bob"] },
      { headers: adminHeaders },
    );
    const { message } = await admin.sendMessage(
      { appId, senderId: "alice", message: { groupId: group!.groupId, elements: [{ element: { case: "text", value: { text: "hi" } } }] } },
      { headers: adminHeaders },
    );
    const { token } = await admin.issueUserToken({ appId, userId: "alice" }, { headers: adminHeaders });
    return { ids: [appId, "alice", "bob", "carol", group!.groupId, message!.messageId, "1.AAAAAAAA"], token };
  }

  beforeAll(async () => {
    server = await startServer({ port: 0, rateLimitPerSecond: 1e6 });
    adminHeaders = { authorization: `Bearer ${server.adminKey}` };
    const users = await seedApp("fuzz");
    userHeaders = { authorization: `Bearer ${users.token}` };
    known.push(...users.ids);
    // AdminService may delete users and rotate secrets: it works on an app of its own, so the
    // user services keep a valid token.
    adminKnown.push(...(await seedApp("fuzz-admin")).ids);
  });
  afterAll(async () => {
    await server?.close();
  });

  const services: DescService[] = [GroupService, MessageService, ConversationService, EventService, ServerService, AdminService];

  for (const service of services) {
    it(`${service.name}: random field values`, async () => {
      const random = prng(service.name.length * 7919);
      const requests = new RandomRequests(random, service === AdminService ? adminKnown : known);
      const transport = createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true });
      // A generic view of the client: its methods by local name.
      const client = createClient(service, transport) as unknown as Record<string, (input: unknown, options: object) => unknown>;
      const headers = service === AdminService ? adminHeaders : userHeaders;
      for (const method of service.methods) {
        for (let i = 0; i < ITERATIONS; i++) {
          const input = requests.message(method.input);
          const what = `${service.name}.${method.name} #${i} ${JSON.stringify(input, (_k, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `<${v.length} bytes>` : v)).slice(0, 300)}`;
          try {
            if (method.methodKind === "server_streaming") {
              const abort = new AbortController();
              const timer = setTimeout(() => abort.abort(), 200);
              try {
                for await (const _ of client[method.localName](input, { headers, signal: abort.signal }) as AsyncIterable<unknown>) break;
              } finally {
                clearTimeout(timer);
              }
            } else {
              await client[method.localName](input, { headers });
            }
          } catch (err) {
            const code = ConnectError.from(err).code;
            if (code === Code.Canceled) continue;
            expect([Code.Internal, Code.Unknown], `${what} → ${Code[code]}: ${ConnectError.from(err).rawMessage}`).not.toContain(code);
          }
        }
      }
    });
  }

  it("random and compressed bytes to every RPC, in each binary framing", async () => {
    const random = prng(42);
    for (const service of services) {
      for (const method of service.methods) {
        const valid = toBinary(method.input, create(method.input));
        for (let i = 0; i < 6; i++) {
          const junk = new Uint8Array(1 + Math.floor(random() * 40)).map(() => Math.floor(random() * 256));
          const body = i === 0 ? new Uint8Array([...valid, 0x0a]) : junk;
          const res = await fetch(`${server.url}/${service.typeName}/${method.name}`, {
            method: "POST",
            headers: {
              "content-type": method.methodKind === "unary" ? "application/proto" : "application/connect+proto",
              ...(service === AdminService ? adminHeaders : userHeaders),
            },
            body,
            signal: AbortSignal.timeout(2_000),
          }).catch((err: unknown) => err as Error);
          expect(res, `${service.name}.${method.name}: no response`).toBeInstanceOf(Response);
          const response = res as Response;
          const text = await response.text().catch(() => "");
          expect(response.status, `${service.name}.${method.name} → ${response.status} ${text.slice(0, 200)}`).not.toBe(500);
          expect(text).not.toMatch(/"code":"(internal|unknown)"/);
        }
      }
    }
    // Compressed junk, and streams that connect-es serves itself (a timeout header).
    const junk = gzipSync(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    const envelope = (flags: number, payload: Uint8Array) => {
      const out = new Uint8Array(5 + payload.length);
      out[0] = flags;
      new DataView(out.buffer).setUint32(1, payload.length);
      out.set(payload, 5);
      return out;
    };
    for (const service of services) {
      for (const method of service.methods) {
        const streaming = method.methodKind === "server_streaming";
        const variants: [string, Record<string, string>, BodyInit][] = streaming
          ? [
              ["gzip", { "content-type": "application/connect+proto", "connect-content-encoding": "gzip" }, envelope(1, junk)],
              ["timeout", { "content-type": "application/connect+proto", "connect-timeout-ms": "2000" }, envelope(0, gunzipSync(junk))],
              ["grpc-web gzip", { "content-type": "application/grpc-web+proto", "grpc-encoding": "gzip" }, envelope(1, junk)],
            ]
          : [["gzip", { "content-type": "application/proto", "content-encoding": "gzip" }, junk]];
        for (const [what, headers, body] of variants) {
          const res = await fetch(`${server.url}/${service.typeName}/${method.name}`, {
            method: "POST",
            headers: { ...headers, ...(service === AdminService ? adminHeaders : userHeaders) },
            body,
            signal: AbortSignal.timeout(2_000),
          });
          const text = await res.text();
          const where = `${service.name}.${method.name} (${what}) → ${res.status} ${text.slice(0, 200)}`;
          expect(res.status, where).not.toBe(500);
          expect(text, where).not.toMatch(/"code":"(internal|unknown)"/);
        }
      }
    }
    // Still serving.
    const groups = createClient(GroupService, createConnectTransport({ baseUrl: server.url, httpVersion: "2" }));
    expect((await groups.listGroups({}, { headers: userHeaders })).groups.map((g) => g.groupId)).toContain("g1");
  });
});
