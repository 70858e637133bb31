// Authentication and isolation (AUTH): user tokens, the admin key, group scoping, app isolation.
import { createClient } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { AdminService } from "@narrowcast/gen/admin";
import { defineCase } from "../case.js";
import { expectEqual } from "../check.js";
import { checkError, expectError } from "../errors.js";
import { isMessage } from "../events.js";
import type { CaseContext, UserClients } from "../fixtures.js";
import { nowSeconds, randomKey, signToken, signTokenWithAlgorithm, signTokenWithKey } from "../jwt.js";
import { Subscription, sleep } from "../subscription.js";
import { withBearer } from "../transport.js";
import { expectSeqs } from "./util.js";

/** Calls one RPC of every user service (and Subscribe) and checks each is refused the same way. */
async function expectEveryServiceRefuses(ctx: CaseContext, clients: UserClients, groupId: string, reason: ErrorReason, what: string): Promise<void> {
  const calls: [string, () => Promise<unknown>][] = [
    ["GroupService.ListGroups", () => clients.groups.listGroups({})],
    ["GroupService.CreateGroup", () => clients.groups.createGroup({ type: GroupType.WORK })],
    ["MessageService.SendMessage", () => clients.messages.sendMessage({ groupId, elements: [{ element: { case: "text", value: { text: "x" } } }] })],
    ["MessageService.ListMessages", () => clients.messages.listMessages({ groupId })],
    ["ConversationService.ListConversations", () => clients.conversations.listConversations({})],
  ];
  for (const [rpc, call] of calls) await expectError(call(), Code.Unauthenticated, reason, { what: `${rpc} ${what}` });
  const sub = Subscription.open(clients.events, {}, `subscription ${what}`, ctx.wait);
  ctx.defer(() => sub.close());
  checkError(await sub.error(), Code.Unauthenticated, reason, {}, `EventService.Subscribe ${what}`);
}

export const authCases = [
  defineCase({
    id: "auth-token-missing",
    rules: ["AUTH-1"],
    requirement: "Every user RPC without an Authorization header is Unauthenticated TOKEN_MISSING, and changes nothing.",
    async run(ctx) {
      const w = await ctx.world();
      await expectEveryServiceRefuses(ctx, ctx.clientsWithToken(undefined), w.groupId, ErrorReason.TOKEN_MISSING, "without a token");
      expectSeqs(await w.user("alice").history(w.groupId), [], "history after refused sends");
    },
  }),
  defineCase({
    id: "auth-token-malformed",
    rules: ["AUTH-2"],
    requirement: "A token that is not a well-formed HS256 JWT is Unauthenticated TOKEN_INVALID.",
    async run(ctx) {
      const w = await ctx.world();
      for (const token of ["not-a-jwt", "a.b.c", "Basic xyz"]) {
        await expectError(ctx.clientsWithToken(token).groups.listGroups({}), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: `a call with token ${JSON.stringify(token)}` });
      }
      const none = signToken({ iss: w.app.appId, sub: "alice", exp: nowSeconds() + 600 }, w.app.app.secret).split(".");
      const algNone = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${none[1]}.`;
      await expectError(ctx.clientsWithToken(algNone).groups.listGroups({}), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: 'a call with an unsigned ("alg": "none") token' });
    },
  }),
  defineCase({
    id: "auth-token-forged",
    rules: ["AUTH-2", "AUTH-6"],
    requirement: "A token signed with a wrong key, or with another app's secret, is Unauthenticated TOKEN_INVALID on every service.",
    async run(ctx) {
      const w = await ctx.world();
      const other = await ctx.createApp();
      const claims = { iss: w.app.appId, sub: "alice", exp: nowSeconds() + 600 };
      await expectEveryServiceRefuses(ctx, ctx.clientsWithToken(signTokenWithKey(claims, randomKey())), w.groupId, ErrorReason.TOKEN_INVALID, "with a forged token");
      await expectError(ctx.clientsWithToken(signToken(claims, other.app.secret)).groups.listGroups({}), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, {
        what: "a token signed with another app's secret",
      });
    },
  }),
  defineCase({
    id: "auth-token-unknown-app-or-user",
    rules: ["AUTH-2"],
    requirement: "A correctly signed token naming an unknown app or unknown user, or without exp, is Unauthenticated TOKEN_INVALID.",
    async run(ctx) {
      const w = await ctx.world();
      const secret = w.app.app.secret;
      const exp = nowSeconds() + 600;
      const tokens: [string, string][] = [
        ["an unknown app", signToken({ iss: "no-such-app", sub: "alice", exp }, secret)],
        ["an unknown user", signToken({ iss: w.app.appId, sub: "ghost", exp }, secret)],
        ["no exp claim", signToken({ iss: w.app.appId, sub: "alice", iat: nowSeconds() }, secret)],
      ];
      for (const [what, token] of tokens) {
        await expectError(ctx.clientsWithToken(token).messages.listMessages({ groupId: w.groupId }), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: `a token with ${what}` });
      }
    },
  }),
  defineCase({
    id: "auth-self-minted-token",
    rules: ["AUTH-2", "ADM-3"],
    requirement: "A token the app backend mints itself (HS256 with the app secret, iss, sub, exp) is accepted like an issued one.",
    async run(ctx) {
      const w = await ctx.world();
      const token = signToken({ iss: w.app.appId, sub: "bob", exp: nowSeconds() + 600, iat: nowSeconds() }, w.app.app.secret);
      const bob = ctx.clientsWithToken(token);
      const sent = await bob.messages.sendMessage({ groupId: w.groupId, elements: [{ element: { case: "text", value: { text: "self-minted" } } }] });
      expectEqual(sent.message?.senderId, "bob", "sender of a message sent with a self-minted token");
      const sub = Subscription.open(bob.events, {}, "bob's self-minted subscription", ctx.wait);
      ctx.defer(() => sub.close());
      await sub.ready();
      const m = await w.user("alice").send(w.groupId, "hi bob");
      await sub.waitFor("alice's message", isMessage(m.messageId));
    },
  }),
  defineCase({
    id: "auth-token-not-before",
    rules: ["AUTH-2"],
    requirement: "A token used before its nbf claim is Unauthenticated TOKEN_INVALID on every service; one whose nbf has passed is accepted.",
    async run(ctx) {
      const w = await ctx.world();
      const now = nowSeconds();
      const early = signToken({ iss: w.app.appId, sub: "alice", exp: now + 3600, iat: now, nbf: now + 600 }, w.app.app.secret);
      await expectEveryServiceRefuses(ctx, ctx.clientsWithToken(early), w.groupId, ErrorReason.TOKEN_INVALID, "with a token whose nbf is 10 minutes away");
      const ready = signToken({ iss: w.app.appId, sub: "alice", exp: now + 3600, iat: now - 60, nbf: now - 30 }, w.app.app.secret);
      const sent = await ctx.clientsWithToken(ready).messages.sendMessage({ groupId: w.groupId, elements: [{ element: { case: "text", value: { text: "nbf passed" } } }] });
      expectEqual(Number(sent.message?.seq), 1, "seq of a send with a token whose nbf has passed (the refused sends stored nothing)");
    },
  }),
  defineCase({
    id: "auth-token-extra-claims",
    rules: ["AUTH-2"],
    requirement: "Claims other than iss, sub, exp, iat and nbf (aud, jti, custom ones) are ignored: such a token is accepted.",
    async run(ctx) {
      const w = await ctx.world();
      const now = nowSeconds();
      const token = signToken({ iss: w.app.appId, sub: "bob", exp: now + 600, iat: now, aud: ["narrowcast", "other"], jti: "token-1234", scope: "chat", custom: { nested: true } }, w.app.app.secret);
      const bob = ctx.clientsWithToken(token);
      expectEqual((await bob.groups.listGroups({})).groups.map((g) => g.groupId), [w.groupId], "ListGroups with a token carrying aud, jti and custom claims");
      const sub = Subscription.open(bob.events, {}, "bob's subscription with extra claims", ctx.wait);
      ctx.defer(() => sub.close());
      await sub.ready();
    },
  }),
  defineCase({
    id: "auth-token-expired",
    rules: ["AUTH-3"],
    requirement: "A token whose exp is in the past — an hour ago, or a few seconds ago (no clock tolerance) — is Unauthenticated TOKEN_EXPIRED on every service.",
    async run(ctx) {
      const w = await ctx.world();
      const token = signToken({ iss: w.app.appId, sub: "alice", exp: nowSeconds() - 3600, iat: nowSeconds() - 7200 }, w.app.app.secret);
      await expectEveryServiceRefuses(ctx, ctx.clientsWithToken(token), w.groupId, ErrorReason.TOKEN_EXPIRED, "with an expired token");
      const justExpired = ctx.clientsWithToken(signToken({ iss: w.app.appId, sub: "alice", exp: nowSeconds() - 3, iat: nowSeconds() - 60 }, w.app.app.secret));
      await expectError(justExpired.messages.listMessages({ groupId: w.groupId }), Code.Unauthenticated, ErrorReason.TOKEN_EXPIRED, { what: "a token that expired 3 seconds ago" });
    },
  }),
  defineCase({
    id: "auth-token-expires-while-in-use",
    rules: ["AUTH-3", "AUTH-2"],
    requirement:
      "A token accepted while valid is Unauthenticated TOKEN_EXPIRED once its exp has passed, on every RPC it was used for (a server that caches verified tokens must still check exp per request).",
    async run(ctx) {
      const w = await ctx.world();
      // 5 s: the calls below must all run before exp, on a loaded machine too.
      const exp = nowSeconds() + 5;
      const clients = ctx.clientsWithToken(signToken({ iss: w.app.appId, sub: "alice", exp, iat: nowSeconds() }, w.app.app.secret));
      const calls: [string, () => Promise<unknown>][] = [
        ["MessageService.ListMessages", () => clients.messages.listMessages({ groupId: w.groupId })],
        ["GroupService.ListGroups", () => clients.groups.listGroups({})],
        ["ConversationService.GetConversation", () => clients.conversations.getConversation({ groupId: w.groupId })],
      ];
      // Used twice while valid, so a server that caches verified tokens has it cached.
      for (const [, call] of [...calls, ...calls]) await call();
      // exp is in whole seconds: wait until the second after it has begun, plus transit.
      await sleep(Math.max(0, (exp + 1) * 1000 + 250 - Date.now()));
      for (const [what, call] of calls) await expectError(call(), Code.Unauthenticated, ErrorReason.TOKEN_EXPIRED, { what: `${what} after the token's exp` });
      await expectError(clients.messages.sendMessage({ groupId: w.groupId, elements: [{ element: { case: "text", value: { text: "late" } } }] }), Code.Unauthenticated, ErrorReason.TOKEN_EXPIRED, {
        what: "SendMessage after the token's exp",
      });
      expectSeqs(await w.user("bob").history(w.groupId), [], "history after a send with an expired token");
    },
  }),
  defineCase({
    id: "auth-token-algorithms",
    rules: ["AUTH-2"],
    requirement:
      "Only HS256 is accepted: a token with valid claims signed with the app's secret under HS384 or HS512, or with alg none and no signature, or an HS256 header over an HS512 signature, is Unauthenticated TOKEN_INVALID.",
    async run(ctx) {
      const w = await ctx.world();
      const secret = w.app.app.secret;
      const claims = { iss: w.app.appId, sub: "alice", exp: nowSeconds() + 600, iat: nowSeconds() };
      const hs512 = signTokenWithAlgorithm(claims, secret, "HS512");
      const [, payload, signature] = hs512.split(".");
      const header256 = signToken(claims, secret).split(".")[0];
      const tokens: [string, string][] = [
        ["HS384", signTokenWithAlgorithm(claims, secret, "HS384")],
        ["HS512", hs512],
        ["alg none", signTokenWithAlgorithm(claims, secret, "none")],
        ["an HS256 header over an HS512 signature", `${header256}.${payload}.${signature}`],
      ];
      for (const [what, token] of tokens) {
        const clients = ctx.clientsWithToken(token);
        await expectError(clients.messages.listMessages({ groupId: w.groupId }), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: `ListMessages with ${what}` });
        await expectError(clients.messages.sendMessage({ groupId: w.groupId, elements: [{ element: { case: "text", value: { text: "x" } } }] }), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, {
          what: `SendMessage with ${what}`,
        });
      }
      expectSeqs(await w.user("bob").history(w.groupId), [], "history after sends with tokens of other algorithms");
    },
  }),
  defineCase({
    id: "auth-admin-key",
    rules: ["AUTH-4"],
    requirement: "AdminService without the admin key, with a wrong one, or with a user token is Unauthenticated ADMIN_KEY_INVALID.",
    async run(ctx) {
      const w = await ctx.world();
      const userToken = await w.user("alice").token();
      for (const [what, key] of [["no key", undefined], ["a wrong key", "wrong-admin-key"], ["a user token", userToken]] as const) {
        const admin = createClient(AdminService, withBearer(ctx.transport, key));
        await expectError(admin.createApp({ name: "x" }), Code.Unauthenticated, ErrorReason.ADMIN_KEY_INVALID, { what: `CreateApp with ${what}` });
        await expectError(admin.sendMessage({ appId: w.app.appId, senderId: "alice", message: { groupId: w.groupId, elements: [{ element: { case: "text", value: { text: "x" } } }] } }), Code.Unauthenticated, ErrorReason.ADMIN_KEY_INVALID, {
          what: `SendMessage with ${what}`,
        });
      }
      expectSeqs(await w.user("alice").history(w.groupId), [], "history after refused admin sends");
    },
  }),
  defineCase({
    id: "auth-group-not-found",
    rules: ["AUTH-5"],
    requirement: "A group ID that does not exist in the caller's app is NotFound GROUP_NOT_FOUND on every group-scoped RPC.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = w.user("bob");
      const groupId = "no-such-group";
      const calls: [string, () => Promise<unknown>][] = [
        ["GetGroup", () => bob.groups.getGroup({ groupId })],
        ["ListMembers", () => bob.groups.listMembers({ groupId })],
        ["JoinGroup", () => bob.groups.joinGroup({ groupId })],
        ["SendMessage", () => bob.send(groupId, "x")],
        ["ListMessages", () => bob.messages.listMessages({ groupId })],
        ["GetConversation", () => bob.conversations.getConversation({ groupId })],
        ["MarkConversationRead", () => bob.conversations.markConversationRead({ groupId })],
      ];
      for (const [rpc, call] of calls) await expectError(call(), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { what: `${rpc} of an unknown group` });
    },
  }),
  defineCase({
    id: "auth-not-a-member",
    rules: ["AUTH-5"],
    requirement: "A non-member calling group-scoped RPCs (other than JoinGroup) is PermissionDenied NOT_A_MEMBER, revealing nothing.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.COMMUNITY });
      const m = await w.user("alice").send(w.groupId, "members only");
      const erin = w.user("erin");
      const g = { groupId: w.groupId };
      const calls: [string, () => Promise<unknown>][] = [
        ["GetGroup", () => erin.groups.getGroup(g)],
        ["ListMembers", () => erin.groups.listMembers(g)],
        ["InviteMembers", () => erin.groups.inviteMembers({ ...g, userIds: ["erin"] })],
        ["LeaveGroup", () => erin.groups.leaveGroup(g)],
        ["ListMessages", () => erin.messages.listMessages(g)],
        ["GetMessage", () => erin.messages.getMessage({ ...g, messageId: m.messageId })],
        ["RecallMessage", () => erin.messages.recallMessage({ ...g, messageId: m.messageId })],
        ["GetConversation", () => erin.conversations.getConversation(g)],
      ];
      for (const [rpc, call] of calls) {
        const detail = await expectError(call(), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, { what: `${rpc} by a non-member` });
        expectEqual(detail.ids.filter((id) => id !== "erin"), [], `IDs revealed by ${rpc}'s NOT_A_MEMBER error`);
      }
    },
  }),
  defineCase({
    id: "auth-app-isolation",
    rules: ["AUTH-6"],
    requirement: "Apps are isolated: another app's user gets GROUP_NOT_FOUND for this app's group, and equal group and user IDs in two apps are independent.",
    async run(ctx) {
      const a = await ctx.world({ groupId: "shared-id" });
      const b = await ctx.world({ groupId: "shared-id", members: ["alice", "zoe"] });
      await a.user("alice").send(a.groupId, "app A secret");
      const bob = a.user("bob");
      const zoe = b.user("zoe");
      await expectError(zoe.groups.joinGroup({ groupId: "other-a-group" }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { what: "app B user naming an unknown group" });
      const g2 = await a.app.createGroup(GroupType.COMMUNITY, { owner: "bob", groupId: "only-in-a" });
      await expectError(zoe.groups.joinGroup({ groupId: g2 }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { what: "app B user joining app A's group" });
      await expectError(zoe.messages.listMessages({ groupId: g2 }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { what: "app B user reading app A's group" });
      expectSeqs(await b.user("alice").history(b.groupId), [], "app B's same-named group (app A's message must not show)");
      const members = (await zoe.groups.listMembers({ groupId: b.groupId })).members.map((m) => m.userId);
      expectEqual(members, ["alice", "zoe"], "members of app B's same-named group");
      expectEqual((await bob.conversations.listConversations({})).conversations.map((c) => c.groupId).sort(), ["only-in-a", "shared-id"], "app A bob's conversations");
      const crossToken = signToken({ iss: b.app.appId, sub: "bob", exp: nowSeconds() + 600 }, b.app.app.secret);
      await expectError(ctx.clientsWithToken(crossToken).groups.listGroups({}), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, {
        what: "app B token for a user who exists only in app A",
      });
    },
  }),
];
