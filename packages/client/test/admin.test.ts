// The admin client on narrowcast.admin.v1.AdminService: plans, secret rotation, users.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, Plan, Reason, createClient, createTargetedGroupMessage, createTextMessage } from "../src/index.js";
import { rejection, startFixture } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe("apps", () => {
  it("getApp hides the secret; setAppPlan applies to the next send (TGT-9)", async () => {
    const app = await fx.app({ users: ["alice", "bob"], plan: "standard" });
    const shown = await fx.admin.getApp(app.appId);
    expect(shown).toMatchObject({ appId: app.appId, plan: Plan.STANDARD, secret: "" });
    expect(shown.createTime).toBeInstanceOf(Date);

    const alice = await app.client("alice");
    const targeted = () => alice.sendMessage(createTargetedGroupMessage(createTextMessage("x"), ["bob"]), { groupId: app.groupId });
    expect(await rejection(targeted)).toMatchObject({ code: Code.PermissionDenied, reason: Reason.FEATURE_NOT_IN_PLAN });
    expect(await fx.admin.setAppPlan(app.appId, "ultimate")).toMatchObject({ plan: Plan.ULTIMATE, secret: "" });
    expect(await targeted()).toMatchObject({ receiverIds: ["bob"] });
  });

  it("rotateAppSecret: old tokens stop at once without grace, keep working with it", async () => {
    const app = await fx.app({ users: ["alice"] });
    const old = createClient({ baseUrl: fx.server.url, token: await app.token("alice") });
    try {
      await old.listGroups();
      const graced = await fx.admin.rotateAppSecret(app.appId, { previousSecretGraceSeconds: 60 });
      expect(graced.secret).not.toBe("");
      expect(graced.previousSecretExpireTime).toBeInstanceOf(Date);
      await old.listGroups();
      const rotated = await fx.admin.rotateAppSecret(app.appId);
      expect(rotated.secret).not.toBe(graced.secret);
      expect(await rejection(() => old.listGroups())).toMatchObject({ code: Code.Unauthenticated, reason: Reason.TOKEN_INVALID });
      // Tokens issued now are signed with the new secret.
      const fresh = await app.client("alice");
      await fresh.listGroups();
    } finally {
      await old.close();
    }
  });
});

describe("users", () => {
  it("importUsers returns the users; getUser; deleteUser ends memberships and tokens", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    expect(await fx.admin.importUsers(app.appId, [{ userId: "carol", nickname: "Carol" }])).toMatchObject([
      { userId: "carol", nickname: "Carol" },
    ]);
    expect(await fx.admin.getUser(app.appId, "carol")).toMatchObject({ userId: "carol", nickname: "Carol" });
    const bob = await app.client("bob");
    await bob.listGroups();

    await fx.admin.deleteUser(app.appId, "bob");
    expect(await rejection(() => bob.listGroups())).toMatchObject({ reason: Reason.TOKEN_INVALID });
    expect(await rejection(() => fx.admin.getUser(app.appId, "bob"))).toMatchObject({
      code: Code.NotFound,
      reason: Reason.USER_NOT_FOUND,
      ids: ["bob"],
    });
    const members = [];
    for await (const member of fx.admin.members(app.appId, app.groupId)) {
      members.push(member.userId);
    }
    expect(members).toEqual(["alice"]);
  });
});
