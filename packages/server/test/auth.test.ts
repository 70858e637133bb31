// Authentication and app isolation over every protocol (rules AUTH-1 to AUTH-7, ADM-9, section
// 4.2): missing, malformed, forged, expired, not-yet-valid and other-app tokens; the admin key;
// secret rotation with and without a grace period; ServerService without a token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { SignJWT, base64url } from "jose";
import {
  ConversationService,
  ErrorReason,
  EventService,
  GroupService,
  GroupType,
  MemberRole,
  MessageService,
} from "@narrowcast/gen";
import { AdminService } from "@narrowcast/gen/admin";
import { AppFixture, FakeClock, PROTOCOLS, TestServer, WAIT_MS, drain, expectError, seconds, text, type Protocol } from "./support.js";

const clock = new FakeClock();
let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({ now: clock.now });
});
afterAll(async () => {
  await server?.close();
});

/** Mints a token offline, as an app backend would (section 4.2), on the server's clock. */
async function mint(
  secret: string,
  claims: { iss?: string; sub?: string; expIn?: number | null; nbfIn?: number; extra?: Record<string, unknown> },
  alg = "HS256",
): Promise<string> {
  const now = Math.floor(clock.now() / 1000);
  const jwt = new SignJWT({ ...claims.extra }).setProtectedHeader({ alg }).setIssuedAt(now);
  if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  if (claims.expIn !== null) jwt.setExpirationTime(now + (claims.expIn ?? 3600));
  if (claims.nbfIn !== undefined) jwt.setNotBefore(now + claims.nbfIn);
  return jwt.sign(base64url.decode(secret));
}

/** An unsigned token (`alg: none`). */
function unsigned(iss: string, sub: string): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${enc({ alg: "none", typ: "JWT" })}.${enc({ iss, sub, exp: Math.floor(clock.now() / 1000) + 3600 })}.`;
}

/** One read-only call per user service, made with `token` (or none). */
function userCalls(protocol: Protocol, token: string | undefined) {
  const t = server.transport(protocol, { token });
  return {
    groups: () => createClient(GroupService, t).listGroups({}),
    messages: () => createClient(MessageService, t).listMessages({ groupId: "g" }),
    conversations: () => createClient(ConversationService, t).listConversations({}),
    events: () => drain(createClient(EventService, t).subscribe({}, { timeoutMs: WAIT_MS })),
  };
}

async function expectAllUserServices(protocol: Protocol, token: string | undefined, reason: ErrorReason): Promise<void> {
  for (const [name, call] of Object.entries(userCalls(protocol, token))) {
    await expectError(call(), Code.Unauthenticated, reason).catch((e: Error) => {
      throw new Error(`${name}: ${e.message}`);
    });
  }
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  const setup = (users: string[]) => AppFixture.create(server, protocol, { users });

  it("AUTH-1: every user service needs a token (TOKEN_MISSING)", async () => {
    await expectAllUserServices(protocol, undefined, ErrorReason.TOKEN_MISSING);
  });

  it("AUTH-2: a token minted offline with the app secret is accepted", async () => {
    const app = await setup(["alice"]);
    const token = await mint(app.secret, { iss: app.appId, sub: "alice" });
    const groups = createClient(GroupService, server.transport(protocol, { token }));
    const { group } = await groups.createGroup({ type: GroupType.WORK });
    expect(group?.ownerId).toBe("alice");
  });

  it("AUTH-2: malformed, forged, non-HS256, unknown app or user, and exp-less tokens are TOKEN_INVALID", async () => {
    const app = await setup(["alice"]);
    const other = await setup(["alice"]);
    const bad: Record<string, string> = {
      garbage: "not-a-jwt",
      "three dots": "a.b.c",
      "wrong secret": await mint(other.secret, { iss: app.appId, sub: "alice" }),
      HS512: await mint(app.secret, { iss: app.appId, sub: "alice" }, "HS512"),
      "alg none": unsigned(app.appId, "alice"),
      "unknown app": await mint(app.secret, { iss: "app_unknown", sub: "alice" }),
      "unknown user": await mint(app.secret, { iss: app.appId, sub: "nobody" }),
      "no exp": await mint(app.secret, { iss: app.appId, sub: "alice", expIn: null }),
      "no sub": await mint(app.secret, { iss: app.appId }),
    };
    const good = await mint(app.secret, { iss: app.appId, sub: "alice" });
    const [h, , s] = good.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ iss: app.appId, sub: "mallory", exp: 9_999_999_999 })).toString("base64url");
    bad["tampered payload"] = `${h}.${forgedPayload}.${s}`;
    for (const [name, token] of Object.entries(bad)) {
      await expectAllUserServices(protocol, token, ErrorReason.TOKEN_INVALID).catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
    }
  });

  it("AUTH-3, ADM-3: a token past its exp is TOKEN_EXPIRED, also one that was accepted before", async () => {
    const app = await setup(["alice"]);
    const expired = await mint(app.secret, { iss: app.appId, sub: "alice", expIn: -10 });
    await expectAllUserServices(protocol, expired, ErrorReason.TOKEN_EXPIRED);
    const before = Math.floor(clock.now() / 1000);
    const { token, expireTime } = await app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl: seconds(60) });
    const after = Math.floor(clock.now() / 1000);
    expect(Number(expireTime!.seconds)).toBeGreaterThanOrEqual(before + 60);
    expect(Number(expireTime!.seconds)).toBeLessThanOrEqual(after + 60);
    const groups = createClient(GroupService, server.transport(protocol, { token }));
    await groups.listGroups({});
    clock.advance(61);
    await expectAllUserServices(protocol, token, ErrorReason.TOKEN_EXPIRED);
  });

  it("AUTH-2: nbf is honoured without clock skew: before it TOKEN_INVALID (not expired), from it accepted", async () => {
    const app = await setup(["alice"]);
    const early = await mint(app.secret, { iss: app.appId, sub: "alice", nbfIn: 30 });
    await expectAllUserServices(protocol, early, ErrorReason.TOKEN_INVALID);
    const now = await mint(app.secret, { iss: app.appId, sub: "alice", nbfIn: 0 });
    await createClient(GroupService, server.transport(protocol, { token: now })).listGroups({});
    clock.advance(30);
    await createClient(GroupService, server.transport(protocol, { token: early })).listGroups({});
  });

  it("AUTH-2: claims other than iss, sub, exp, iat and nbf are ignored", async () => {
    const app = await setup(["alice"]);
    const token = await mint(app.secret, { iss: app.appId, sub: "alice", extra: { aud: "somebody-else", jti: "x1", role: "root" } });
    await createClient(GroupService, server.transport(protocol, { token })).listGroups({});
  });

  it("ADM-9: RotateAppSecret without grace ends old tokens at once; the new secret mints working tokens", async () => {
    const app = await setup(["alice"]);
    const old = await mint(app.secret, { iss: app.appId, sub: "alice" });
    const issued = app.user("alice").token;
    const groups = (token: string) => createClient(GroupService, server.transport(protocol, { token }));
    await groups(old).listGroups({});
    const { app: rotated } = await app.admin.rotateAppSecret({ appId: app.appId });
    expect(rotated?.secret).not.toBe(app.secret);
    expect(base64url.decode(rotated!.secret)).toHaveLength(32);
    expect(rotated?.previousSecretExpireTime).toBeUndefined();
    for (const token of [old, issued]) await expectAllUserServices(protocol, token, ErrorReason.TOKEN_INVALID);
    await groups(await mint(rotated!.secret, { iss: app.appId, sub: "alice" })).listGroups({});
    const { token: fresh } = await app.admin.issueUserToken({ appId: app.appId, userId: "alice" });
    await groups(fresh).listGroups({});
    // GetApp never shows the secret.
    expect((await app.admin.getApp({ appId: app.appId })).app?.secret).toBe("");
  });

  it("ADM-9: with a grace period the previous secret works until previous_secret_expire_time; a second rotation drops it", async () => {
    const app = await setup(["alice"]);
    const groups = (token: string) => createClient(GroupService, server.transport(protocol, { token }));
    const original = await mint(app.secret, { iss: app.appId, sub: "alice", expIn: 86_400 });
    const before = clock.now();
    const { app: r1 } = await app.admin.rotateAppSecret({ appId: app.appId, previousSecretGracePeriod: seconds(60) });
    const expire = Number(r1!.previousSecretExpireTime!.seconds) * 1000;
    expect(expire).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 60_000);
    expect((await app.admin.getApp({ appId: app.appId })).app?.previousSecretExpireTime).toEqual(r1!.previousSecretExpireTime);
    await groups(original).listGroups({});
    await groups(await mint(r1!.secret, { iss: app.appId, sub: "alice" })).listGroups({});

    // A second rotation within the grace period drops the original secret at once.
    const rotatedOnce = await mint(r1!.secret, { iss: app.appId, sub: "alice", expIn: 86_400 });
    const { app: r2 } = await app.admin.rotateAppSecret({ appId: app.appId, previousSecretGracePeriod: seconds(3600) });
    await expectAllUserServices(protocol, original, ErrorReason.TOKEN_INVALID);
    await groups(rotatedOnce).listGroups({});
    await groups(await mint(r2!.secret, { iss: app.appId, sub: "alice" })).listGroups({});

    // Past the grace period, the previous secret's tokens are TOKEN_INVALID (not expired).
    clock.advance(3601);
    await expectAllUserServices(protocol, rotatedOnce, ErrorReason.TOKEN_INVALID);
    expect((await app.admin.getApp({ appId: app.appId })).app?.previousSecretExpireTime).toBeUndefined();

    for (const grace of [seconds(-1), seconds(30 * 86_400 + 1)]) {
      await expectError(
        app.admin.rotateAppSecret({ appId: app.appId, previousSecretGracePeriod: grace }),
        Code.InvalidArgument,
        ErrorReason.FIELD_INVALID,
        { field: "previous_secret_grace_period" },
      );
    }
  });

  it("AUTH-7: ServerService.GetServerInfo needs no token, and ignores one sent (even a bad one)", async () => {
    for (const token of [undefined, "garbage", server.adminKey]) {
      const { serverInfo } = await server.serverInfo(protocol, { token }).getServerInfo({});
      expect(serverInfo?.serverVersion).toMatch(/^narrowcast-reference\//);
    }
  });

  it("AUTH-4: AdminService needs the admin key; none, a wrong one or a user token is ADMIN_KEY_INVALID", async () => {
    const app = await setup(["alice"]);
    const keys: Record<string, string | undefined> = {
      none: undefined,
      wrong: "not-the-key",
      "key with suffix": `${server.adminKey}x`,
      "user token": app.user("alice").token,
    };
    for (const [name, key] of Object.entries(keys)) {
      const admin: Client<typeof AdminService> = createClient(AdminService, server.transport(protocol, { token: key }));
      for (const call of [() => admin.createApp({ name: "x" }), () => admin.issueUserToken({ appId: app.appId, userId: "alice" })]) {
        await expectError(call(), Code.Unauthenticated, ErrorReason.ADMIN_KEY_INVALID).catch((e: Error) => {
          throw new Error(`${name}: ${e.message}`);
        });
      }
    }
    // The admin key is not a user token either.
    await expectAllUserServices(protocol, server.adminKey, ErrorReason.TOKEN_INVALID);
  });

  it("ADM-1: admin RPCs naming an unknown app are APP_NOT_FOUND", async () => {
    const admin = server.admin(protocol);
    const appId = "app_missing";
    const calls = [
      admin.getApp({ appId }),
      admin.setAppPlan({ appId, plan: 1 }),
      admin.rotateAppSecret({ appId }),
      admin.getUser({ appId, userId: "u" }),
      admin.listUsers({ appId }),
      admin.deleteUser({ appId, userId: "u" }),
      admin.getGroup({ appId, groupId: "g" }),
      admin.listGroups({ appId }),
      admin.listMembers({ appId, groupId: "g" }),
      admin.importUsers({ appId, users: [{ userId: "u" }] }),
      admin.issueUserToken({ appId, userId: "u" }),
      admin.createGroup({ appId, type: GroupType.WORK }),
      admin.addMembers({ appId, groupId: "g", userIds: ["u"] }),
      admin.removeMembers({ appId, groupId: "g", userIds: ["u"] }),
      admin.setMemberRole({ appId, groupId: "g", userId: "u", role: MemberRole.ADMIN }),
      admin.dismissGroup({ appId, groupId: "g" }),
      admin.sendMessage({ appId, message: { groupId: "g", elements: [text("x")] } }),
      admin.recallMessage({ appId, groupId: "g", messageId: "m" }),
    ];
    await Promise.all(calls.map((call) => expectError(call, Code.NotFound, ErrorReason.APP_NOT_FOUND)));
  });

  it("AUTH-6: apps are isolated: another app's group is GROUP_NOT_FOUND; nothing crosses apps", async () => {
    const a = await setup(["alice", "bob"]);
    const b = await setup(["alice", "bob", "carol"]);
    const onlyInB = await b.group(GroupType.MEETING, "alice", ["bob"], "b-only");
    const shared = "same-name";
    const ga = await a.group(GroupType.WORK, "alice", ["bob"], shared);
    const gb = await b.group(GroupType.WORK, "alice", ["bob"], shared);
    const inB = await b.user("alice").send(gb, "in b");
    const alice = a.user("alice");
    await expectError(alice.groups.getGroup({ groupId: onlyInB }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    await expectError(alice.groups.joinGroup({ groupId: onlyInB }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    await expectError(alice.send(onlyInB, "x"), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    await expectError(alice.messages.listMessages({ groupId: onlyInB }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    await expectError(alice.messages.getMessage({ groupId: ga, messageId: inB.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    expect(await alice.history(ga)).toEqual([]);
    expect((await alice.groups.listGroups({})).groups.map((g) => g.groupId)).toEqual([shared]);
    // A's secret cannot mint tokens for B, nor can A's admin calls see B's users.
    const crossToken = await mint(a.secret, { iss: b.appId, sub: "alice" });
    await expectAllUserServices(protocol, crossToken, ErrorReason.TOKEN_INVALID);
    await expectError(a.admin.issueUserToken({ appId: a.appId, userId: "carol" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["carol"] });
  });
});
