// Server information (SRV): ServerService.GetServerInfo, served without a token over every protocol.
import { GroupType, type ServerInfo } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, durationMs, expectEqual, show } from "../check.js";
import { describeObserved, observe } from "../errors.js";
import { nowSeconds, signToken } from "../jwt.js";
import { protocolSupports, protocols } from "../transport.js";


/** The declared limits of one group type, if the server lists it. */
export function limitsOf(info: ServerInfo, type: GroupType): { maxMembers: number; memberEventsMaxMembers: number } | undefined {
  const l = info.groupTypeLimits.find((x) => x.type === type);
  return l ? { maxMembers: l.maxMembers, memberEventsMaxMembers: l.memberEventsMaxMembers } : undefined;
}

const allTypes = [GroupType.WORK, GroupType.PUBLIC, GroupType.MEETING, GroupType.COMMUNITY, GroupType.AVCHATROOM];

export const srvCases = [
  defineCase({
    id: "srv-server-info-without-token",
    rules: ["SRV-1", "AUTH-7", "SRV-2", "WIRE-1"],
    requirement:
      "GetServerInfo needs no token (a valid, expired or malformed user token or the admin key sent with it is ignored), answers identically over Connect, gRPC and gRPC-Web, and declares every group type's limits, the send rate and bound, the recall and idempotency windows and the event retention.",
    async run(ctx) {
      const w = await ctx.world();
      const valid = await w.user("alice").token();
      const expired = signToken({ iss: w.app.appId, sub: "alice", exp: nowSeconds() - 60, iat: nowSeconds() - 120 }, w.app.app.secret);
      const available = protocols.filter((p) => protocolSupports(p, ctx.httpVersion));
      const answers: { what: string; info: ServerInfo }[] = [];
      const tokens: [string, string | undefined][] = [
        ["no token", undefined],
        ["a malformed token", "not-a-jwt"],
        ["a valid user token", valid],
        ["an expired user token", expired],
        ["the admin key", ctx.adminKey],
      ];
      for (const p of available) {
        const transport = ctx.openTransport(p, ctx.httpVersion);
        for (const [what, token] of tokens) {
          const res = await ctx
            .clientsWithTransport(transport, token)
            .server.getServerInfo({})
            .catch((err: unknown) => {
              check(false, `GetServerInfo over ${p} with ${what} failed`, "success", describeObserved(observe(err)));
            });
          check(res?.serverInfo, `GetServerInfo over ${p} with ${what} returned no server_info`);
          answers.push({ what: `${p} with ${what}`, info: res.serverInfo });
        }
      }
      const first = answers[0]!.info;
      for (const a of answers.slice(1)) expectEqual(show(a.info), show(first), `GetServerInfo over ${a.what} vs. over ${answers[0]!.what}`);
      check(first.serverVersion !== "", "server_version is empty", "a version string", JSON.stringify(first.serverVersion));
      expectEqual(
        allTypes.map((t) => [GroupType[t], first.groupTypeLimits.filter((l) => l.type === t).length]),
        allTypes.map((t) => [GroupType[t], 1]),
        "entries of group_type_limits per group type",
      );
      for (const l of first.groupTypeLimits) {
        check(l.maxMembers >= 1, `max_members of ${GroupType[l.type]} is below 1`, "≥ 1", String(l.maxMembers));
        check(l.memberEventsMaxMembers >= 0, `member_events_max_members of ${GroupType[l.type]} is negative`, ">= 0", String(l.memberEventsMaxMembers));
      }
      expectEqual(
        [GroupType.WORK, GroupType.PUBLIC, GroupType.MEETING].map((t) => first.groupTypeLimits.find((l) => l.type === t)?.memberEventsMaxMembers),
        [0, 0, 0],
        "member_events_max_members of WORK, PUBLIC and MEETING (GRP-14 does not cover them)",
      );
      check(first.sendRatePerGroup > 0, "send_rate_per_group is not positive", "> 0", String(first.sendRatePerGroup));
      check(first.sendRatePerGroupBound >= first.sendRatePerGroup, "send_rate_per_group_bound is below the rate", `>= ${first.sendRatePerGroup}`, String(first.sendRatePerGroupBound));
      for (const [field, d] of [["recall_window", first.recallWindow], ["edit_window", first.editWindow], ["event_retention", first.eventRetention]] as const) {
        const ms = durationMs(d);
        check(ms !== undefined && ms > 0, `${field} is not a positive duration`, "set, > 0", String(ms));
      }
      const idempotency = durationMs(first.idempotencyWindow);
      check(idempotency !== undefined && idempotency >= 24 * 3600 * 1000, "idempotency_window is shorter than 24 hours", "≥ 24 h", String(idempotency));
    },
  }),
  defineCase({
    id: "srv-declares-settings",
    rules: ["SRV-1", "MSG-5", "MSG-11", "EDT-2", "EVT-10"],
    requirement:
      "ServerInfo declares the recall and edit windows, send rate and event retention the operator configured (what the suite was told with --recall-window, --edit-window, --rate-limit and --event-retention; the spec's reference values by default).",
    async run(ctx) {
      const info = await ctx.serverInfo();
      const told = ctx.settings;
      const declared = {
        "recall_window (s)": (durationMs(info.recallWindow) ?? 0) / 1000,
        "edit_window (s)": (durationMs(info.editWindow) ?? 0) / 1000,
        send_rate_per_group: info.sendRatePerGroup,
        "event_retention (s)": (durationMs(info.eventRetention) ?? 0) / 1000,
      };
      const expected = {
        "recall_window (s)": told.recallWindowSeconds,
        "edit_window (s)": told.editWindowSeconds,
        send_rate_per_group: told.sendRatePerGroup,
        "event_retention (s)": told.eventRetentionSeconds,
      };
      expectEqual(declared, expected, "ServerInfo vs. the configuration the suite was told (--recall-window, --edit-window, --rate-limit, --event-retention)");
    },
  }),
];
