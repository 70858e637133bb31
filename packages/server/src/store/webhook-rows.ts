// What both stores share about webhooks (webhooks.ts): which logged events become deliveries,
// how a delivery is named, and row ↔ record mapping of the webhooks and deliveries tables
// (sqlite-schema.ts version 9, postgres-schema.ts version 10 have the same columns).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Event } from "@narrowcast/gen";
import { WebhookEventType, WebhookSchema } from "@narrowcast/gen/admin";
import type { Row } from "./records.js";
import type { ClaimedDelivery, DeadLetterRecord, DeliveryKind, WebhookRecord } from "./webhooks.js";

/** The bit of a WebhookEventType in `webhooks.event_mask`: SQL tests "does the app want it" with `&`. */
export function typeBit(type: WebhookEventType): number {
  return 1 << type;
}

/** The mask of the types a configuration lists. */
export function eventMask(eventTypes: readonly WebhookEventType[]): number {
  return eventTypes.reduce((mask, t) => mask | typeBit(t), 0);
}

export const PUSH_BIT = typeBit(WebhookEventType.PUSH_REQUESTED);

/** The webhook type a logged event is delivered as (rule HOOK-6), if any, and its bit. */
export function hookTypeOf(event: Event): { type: string; bit: number } | undefined {
  switch (event.payload.case) {
    case "messageReceived":
      return { type: "message.sent", bit: typeBit(WebhookEventType.MESSAGE_SENT) };
    case "messageRecalled":
      return { type: "message.recalled", bit: typeBit(WebhookEventType.MESSAGE_RECALLED) };
    case "memberJoined":
      return { type: "member.joined", bit: typeBit(WebhookEventType.MEMBER_JOINED) };
    case "memberLeft":
      return { type: "member.left", bit: typeBit(WebhookEventType.MEMBER_LEFT) };
    case "groupDismissed":
      return { type: "group.dismissed", bit: typeBit(WebhookEventType.GROUP_DISMISSED) };
    default:
      return undefined;
  }
}

/**
 * The delivery ID (the `webhook-id`, HOOK-4) of a logged event's delivery: derived from the
 * event's place, so it is unique across apps and the same however often it is computed. A
 * fanout's ID ends in `_f`. Both stores build it in SQL the same way (deliveryIdSql).
 */
export function deliveryIdOf(appId: string, partition: number, position: number, kind: "event" | "fanout"): string {
  return `evt_${appId}_${partition}_${position}${kind === "fanout" ? "_f" : ""}`;
}

/** SQL of deliveryIdOf over columns/parameters (`||` works in both SQLite and PostgreSQL). */
export function deliveryIdSql(app: string, part: string, position: string, kind: string): string {
  return `('evt_' || ${app} || '_' || ${part} || '_' || ${position} || CASE WHEN ${kind} = 'fanout' THEN '_f' ELSE '' END)`;
}

/** The columns a webhook record is stored as; the config without its output-only fields. */
export function webhookColumns(record: WebhookRecord): {
  config: Uint8Array;
  eventMask: number;
  beforeSend: boolean;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
} {
  const config = create(WebhookSchema, { ...record.config, secret: "", previousSecretExpireTime: undefined });
  return {
    config: toBinary(WebhookSchema, config),
    eventMask: eventMask(record.config.eventTypes),
    beforeSend: record.config.beforeSendUrl !== "",
    secret: record.secret,
    previousSecret: record.previousSecret ?? null,
    previousSecretExpiresAt: record.previousSecret === undefined ? null : (record.previousSecretExpiresAt ?? null),
  };
}

/** A `webhooks` row (columns prefixed with `prefix`) as a record. */
export function toWebhook(r: Row, prefix = ""): WebhookRecord {
  const record: WebhookRecord = {
    appId: r[`${prefix}app_id`],
    config: fromBinary(WebhookSchema, r[`${prefix}config`]),
    secret: r[`${prefix}secret`],
  };
  if (r[`${prefix}previous_secret`] !== null && r[`${prefix}previous_secret`] !== undefined) {
    record.previousSecret = r[`${prefix}previous_secret`];
    const expires = r[`${prefix}previous_secret_expires_at`];
    if (expires !== null && expires !== undefined) record.previousSecretExpiresAt = Number(expires);
  }
  return record;
}

/** A claimed `webhook_deliveries` row, joined with its event (`e_*`) and its app's webhook (`w_*`). */
export function toClaimed(r: Row): ClaimedDelivery {
  const claimed: ClaimedDelivery = {
    appId: r.app_id,
    deliveryId: r.delivery_id,
    kind: r.kind as DeliveryKind,
    type: r.type,
    attempts: Number(r.attempts),
    createdAt: Number(r.created_at),
    webhook: toWebhook(r, "w_"),
  };
  if (r.body !== null && r.body !== undefined) claimed.body = r.body;
  if (r.e_payload !== null && r.e_payload !== undefined) {
    claimed.event = { partition: Number(r.part), position: Number(r.event_id), groupId: r.e_group_id, payload: r.e_payload };
  }
  return claimed;
}

export function toDeadLetter(r: Row): DeadLetterRecord {
  return {
    deliveryId: r.delivery_id,
    type: r.type,
    url: r.url ?? "",
    attempts: Number(r.attempts),
    lastError: r.last_error ?? "",
    createdAt: Number(r.created_at),
    lastAttemptAt: Number(r.last_attempt_at ?? r.created_at),
    body: r.body ?? "",
  };
}
