// Row ↔ record mapping shared by both stores: their tables have the same columns (see
// sqlite-schema.ts / postgres-schema.ts), so a row of either maps to a record the same way.
import type { AppRecord, Audience, GroupRecord, JoinRequestRecord, MemberRecord, UserRecord } from "./types.js";
import { AUDIENCE, type AudienceCode } from "../rules/index.js";

export type Row = Record<string, any>;

export function toApp(r: Row): AppRecord {
  const app: AppRecord = { appId: r.app_id, name: r.name, plan: r.plan, secret: r.secret, createdAt: r.created_at };
  if (r.previous_secret !== null) {
    app.previousSecret = r.previous_secret;
    app.previousSecretExpiresAt = r.previous_secret_expires_at;
  }
  return app;
}

export function toUser(r: Row): UserRecord {
  return { userId: r.user_id, nickname: r.nickname };
}

export function toGroup(r: Row): GroupRecord {
  return {
    appId: r.app_id,
    groupId: r.group_id,
    type: r.type,
    name: r.name,
    ownerId: r.owner_id,
    memberCount: r.member_count,
    createdAt: r.created_at,
    lastSeq: r.last_seq,
    lastActivityAt: r.last_activity_at,
  };
}

export function toMember(r: Row): MemberRecord {
  return { userId: r.user_id, role: r.role, joinedAt: r.joined_at, joinSeq: r.join_seq };
}

export function toJoinRequest(r: Row): JoinRequestRecord {
  return { userId: r.user_id, message: r.message, createdAt: r.created_at };
}

/** The events-table form of a member event's audience ("group", or "user" under rule GRP-14). */
export function audienceSpec(audience: Audience): { kind: AudienceCode; userId?: string } {
  return audience.kind === "user" ? { kind: AUDIENCE.USER, userId: audience.userId } : { kind: AUDIENCE.GROUP };
}

/** The `previous_secret_expires_at` to store for an app (none without a previous secret). */
export function previousSecretColumns(app: AppRecord): [string | null, number | null] {
  return app.previousSecret === undefined ? [null, null] : [app.previousSecret, app.previousSecretExpiresAt ?? null];
}
