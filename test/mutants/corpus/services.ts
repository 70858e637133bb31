// Mutants of the services: request checks, send, recall, roles, history (packages/server/src/services).
import { readFileSync } from "node:fs";
import { defineMutants } from "../types.js";

/** The send path's membership checks, and the same with the idempotent replay moved after them. */
const earlierCheck = "  if (context.earlier) return context.earlier;\n";
const receiverChecksEnd = "        ids: outsiders,\n      });\n    }\n  }\n";
function retryAfterMembershipChecks(): { from: string; to: string } {
  const source = readFileSync(new URL("../../../packages/server/src/services/messaging.ts", import.meta.url), "utf8");
  const start = source.indexOf(earlierCheck);
  const end = source.indexOf(receiverChecksEnd, start) + receiverChecksEnd.length;
  if (start < 0 || end < receiverChecksEnd.length) return { from: "(messaging.ts changed: mutant retry-checks-receivers-again needs updating)", to: "" };
  const from = source.slice(start, end);
  return { from, to: from.replace(earlierCheck, "") + earlierCheck };
}

export const serviceMutants = defineMutants([
  {
    id: "mentions-duplicates-counted",
    rule: "MSG-6",
    bug: "Counts duplicate mentions against the limit of 50 instead of collapsing them first.",
    file: "services/messaging.ts",
    from: "if (new Set(req.mentionedUserIds).size > deps.limits.maxMentions) {",
    to: "if (req.mentionedUserIds.length > deps.limits.maxMentions) {",
  },
  {
    id: "mention-single-non-member",
    rule: "MSG-6",
    bug: "Checks mentioned users' membership only when there are several, so a single mention of a non-member is accepted.",
    file: "services/messaging.ts",
    from: "  if (mentions.length) {\n    const outsiders",
    to: "  if (mentions.length > 1) {\n    const outsiders",
  },
  {
    id: "recall-window-in-seconds",
    rule: "MSG-11",
    bug: "Compares the message's age in milliseconds with the recall window as if it were seconds: the window never ends.",
    file: "services/messaging.ts",
    from: "age > deps.limits.recallWindowMs) {",
    to: "age > deps.limits.recallWindowMs * 1000) {",
  },
  {
    id: "recall-window-binds-owner",
    rule: "MSG-11",
    bug: "Applies the recall window to the owner and admins too.",
    file: "services/messaging.ts",
    from: "if (isSender && !privileged && age > deps.limits.recallWindowMs) {",
    to: "if ((isSender || privileged) && age > deps.limits.recallWindowMs) {",
  },
  {
    id: "recall-others-targeted-only",
    rule: "MSG-11",
    bug: "Refuses ordinary members recalling others' messages only for targeted messages.",
    file: "services/messaging.ts",
    from: "if (!isSender && !privileged) {",
    to: "if (!isSender && !privileged && message.receiverIds.length > 0) {",
  },
  {
    id: "targeted-mention-single-receiver",
    rule: "TGT-11",
    bug: "Forbids mentions only on targeted messages with two or more receivers, so a single-receiver message may @-mention.",
    file: "services/messaging.ts",
    from: "if (receivers.length > 0 && (req.mentionedUserIds.length > 0 || req.mentionAll)) {",
    to: "if (receivers.length > 1 && (req.mentionedUserIds.length > 0 || req.mentionAll)) {",
  },
  {
    id: "receiver-limit-off-by-one",
    rule: "TGT-1",
    bug: "Rejects a receiver list of exactly 50.",
    file: "services/messaging.ts",
    from: "if (receivers.length > deps.limits.maxReceivers) {",
    to: "if (receivers.length >= deps.limits.maxReceivers) {",
  },
  {
    id: "duplicate-receivers-kept",
    rule: "TGT-3",
    bug: "Never records a receiver as a duplicate, so repeated receivers are accepted.",
    file: "services/messaging.ts",
    from: "for (const r of receivers) (seen.has(r) ? duplicates : seen).add(r);",
    to: "for (const r of receivers) seen.add(r);",
  },
  {
    id: "plan-check-multi-receiver-only",
    rule: "TGT-9",
    bug: "Checks the ULTIMATE plan only for targeted messages with several receivers (the single-receiver form slips through).",
    file: "services/messaging.ts",
    from: "if (context.plan !== Plan.ULTIMATE) {",
    to: "if (context.plan !== Plan.ULTIMATE && receivers.length > 1) {",
  },
  {
    id: "community-targeted-allowed",
    rule: "TGT-10",
    bug: "Forgets COMMUNITY among the group types that do not allow targeted messages.",
    file: "services/messaging.ts",
    from: "if (group.type === GroupType.COMMUNITY || group.type === GroupType.AVCHATROOM) {",
    to: "if (group.type === GroupType.AVCHATROOM) {",
  },
  {
    id: "online-only-stored",
    rule: "MSG-9",
    bug: "Stores online-only messages like any other.",
    file: "services/messaging.ts",
    from: "const persist = !req.onlineOnly && group.type !== GroupType.AVCHATROOM;",
    to: "const persist = group.type !== GroupType.AVCHATROOM;",
  },
  {
    id: "retry-checks-receivers-again",
    rule: "MSG-10",
    bug: "Checks that the receivers are still members before answering an idempotent retry, so a retry after a receiver left fails instead of returning the original message.",
    file: "services/messaging.ts",
    ...retryAfterMembershipChecks(),
  },
  {
    id: "history-floor-ignored-in-pages",
    rule: "GRP-6",
    bug: "Pages history from the group's first message for everyone, ignoring the member's join.",
    file: "services/message-service.ts",
    from: "floorSeq: historyFloor(group.type, member.joinSeq),",
    to: "floorSeq: 0,",
  },
  {
    id: "public-invite-role-on-community",
    rule: "GRP-3",
    bug: "Requires the owner or an admin to invite into COMMUNITY groups instead of PUBLIC ones.",
    file: "services/group-service.ts",
    from: "if (group.type === GroupType.PUBLIC) requireRole(me, PRIVILEGED, \"invite to a PUBLIC group\");",
    to: "if (group.type === GroupType.COMMUNITY) requireRole(me, PRIVILEGED, \"invite to a PUBLIC group\");",
  },
  {
    id: "admin-removes-admin",
    rule: "GRP-5",
    bug: "Lets an admin remove another admin.",
    file: "services/group-service.ts",
    from: "if (me.role === MemberRole.ADMIN && t.role === MemberRole.ADMIN && t.userId !== userId) {",
    to: "if (me.role === MemberRole.ADMIN && t.role === MemberRole.OWNER && t.userId !== userId) {",
  },
  {
    id: "admin-sets-roles",
    rule: "GRP-5",
    bug: "Lets admins, not only the owner, set members' roles.",
    file: "services/group-service.ts",
    from: 'requireRole(await requireMember(deps, group, userId), [MemberRole.OWNER], "set roles");',
    to: 'requireRole(await requireMember(deps, group, userId), PRIVILEGED, "set roles");',
  },
  {
    id: "owner-may-leave",
    rule: "GRP-5",
    bug: "Checks OWNER_CANNOT_LEAVE against the admin role instead of the owner's.",
    file: "services/group-service.ts",
    from: "    if (me.role === MemberRole.OWNER) {\n        throw narrowcastError(ErrorReason.OWNER_CANNOT_LEAVE",
    to: "    if (me.role === MemberRole.ADMIN) {\n        throw narrowcastError(ErrorReason.OWNER_CANNOT_LEAVE",
  },
  {
    id: "unspecified-plan-kept",
    rule: "ADM-1",
    bug: "Stores PLAN_UNSPECIFIED as given instead of defaulting a new app to STANDARD.",
    file: "services/admin-service.ts",
    from: "plan: req.plan === Plan.UNSPECIFIED ? Plan.STANDARD : req.plan,",
    to: "plan: req.plan,",
  },
  {
    id: "rotation-grace-ignored",
    rule: "ADM-9",
    bug: "Drops the previous secret at once even when a grace period is asked for.",
    file: "services/admin-service.ts",
    from: "graceMs ? deps.now() + Math.ceil(graceMs) : undefined",
    to: "undefined",
  },
  {
    id: "token-ttl-in-milliseconds",
    rule: "ADM-3",
    bug: "Passes the token's ttl in milliseconds where seconds are expected, so issued tokens live 1,000 times longer than asked.",
    file: "services/admin-service.ts",
    from: "mintUserToken(app.appId, app.secret, req.userId, ttlMs / 1000, deps.now())",
    to: "mintUserToken(app.appId, app.secret, req.userId, ttlMs, deps.now())",
  },
  {
    id: "admin-set-role-unspecified",
    rule: "ERR-3",
    bug: "Lets AdminService.SetMemberRole set ROLE_UNSPECIFIED instead of rejecting it as FIELD_INVALID.",
    file: "services/admin-service.ts",
    from: "if (!(req.role in MemberRole) || req.role === MemberRole.UNSPECIFIED) throw fieldInvalid(\"role\", \"a valid role is required\");",
    to: "if (!(req.role in MemberRole)) throw fieldInvalid(\"role\", \"a valid role is required\");",
  },
]);
