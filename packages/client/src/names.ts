import { GroupType, MemberRole, MessagePriority, ReadState } from "@narrowcast/gen";
import { BeforeSendFailureAction, Plan, WebhookEventType } from "@narrowcast/gen/admin";

/** A group type as the enum or by lower-case name ("work", "public", …). */
export type GroupTypeInit = GroupType | "work" | "public" | "meeting" | "community" | "avchatroom";

/** A plan as the enum or by lower-case name; targeted messages need "ultimate" (rule TGT-9). */
export type PlanInit = Plan | "standard" | "ultimate";

/** A member role as the enum or by lower-case name (OWNER only through the admin API). */
export type RoleInit = MemberRole | "owner" | "admin" | "member";

/** Which readers of a message to list (rule RCP-4), as the enum or by lower-case name. */
export type ReadStateInit = ReadState | "read" | "unread";

function parseEnum<T extends number>(what: string, enumObject: Record<string, string | number>, value: T | string): T {
  if (typeof value === "number") {
    return value;
  }
  const parsed = enumObject[value.toUpperCase()];
  if (typeof parsed !== "number" || parsed === 0) {
    const names = Object.keys(enumObject).filter((k) => Number.isNaN(Number(k)) && enumObject[k] !== 0);
    throw new TypeError(`unknown ${what} "${value}": use ${names.map((n) => n.toLowerCase()).join(", ")}`);
  }
  return parsed as T;
}

export function parseGroupType(value: GroupTypeInit | string): GroupType {
  return parseEnum<GroupType>("group type", GroupType, value);
}

export function parsePlan(value: PlanInit | string): Plan {
  return parseEnum<Plan>("plan", Plan, value);
}

export function parseRole(value: RoleInit | string): MemberRole {
  return parseEnum<MemberRole>("role", MemberRole, value);
}

/** A read state; absent stays UNSPECIFIED, which the request checks refuse as the server does. */
export function parseReadState(value: ReadStateInit | string | undefined): ReadState {
  return value === undefined ? ReadState.UNSPECIFIED : parseEnum<ReadState>("read state", ReadState, value);
}

/** Enum names for display, e.g. groupTypeName(GroupType.WORK) === "WORK". */
export const groupTypeName = (value: GroupType): string => GroupType[value] ?? String(value);
export const planName = (value: Plan): string => Plan[value] ?? String(value);
export const roleName = (value: MemberRole): string => MemberRole[value] ?? String(value);
export const priorityName = (value: MessagePriority): string => MessagePriority[value] ?? String(value);

/** The event types an app's webhook can ask for (rules HOOK-6, HOOK-13), by their `WebhookEvent.type`. */
export type WebhookEventTypeName =
  | "message.sent"
  | "message.recalled"
  | "member.joined"
  | "member.left"
  | "group.dismissed"
  | "push.requested";

// Spelled out rather than derived from the enum names: these are the `type` strings of the
// deliveries (rule HOOK-5), which a backend switches on.
const webhookEventTypes: Readonly<Record<WebhookEventTypeName, WebhookEventType>> = {
  "message.sent": WebhookEventType.MESSAGE_SENT,
  "message.recalled": WebhookEventType.MESSAGE_RECALLED,
  "member.joined": WebhookEventType.MEMBER_JOINED,
  "member.left": WebhookEventType.MEMBER_LEFT,
  "group.dismissed": WebhookEventType.GROUP_DISMISSED,
  "push.requested": WebhookEventType.PUSH_REQUESTED,
};

export const WEBHOOK_EVENT_TYPE_NAMES = Object.freeze(Object.keys(webhookEventTypes)) as readonly WebhookEventTypeName[];

export function parseWebhookEventType(value: WebhookEventTypeName | string): WebhookEventType {
  if (!Object.hasOwn(webhookEventTypes, value)) {
    throw new TypeError(`unknown webhook event type "${value}": use ${WEBHOOK_EVENT_TYPE_NAMES.join(", ")}`);
  }
  return webhookEventTypes[value as WebhookEventTypeName];
}

/** The name of a webhook event type; undefined for a value this SDK does not know (a newer server's). */
export function webhookEventTypeName(value: WebhookEventType): WebhookEventTypeName | undefined {
  return WEBHOOK_EVENT_TYPE_NAMES.find((name) => webhookEventTypes[name] === value);
}

/** What a failed before-send call means (rule HOOK-12): send unchanged, or fail the send. */
export type BeforeSendFailureActionName = "allow" | "reject";

export function parseBeforeSendFailureAction(value: BeforeSendFailureActionName | string): BeforeSendFailureAction {
  return parseEnum<BeforeSendFailureAction>("before-send failure action", BeforeSendFailureAction, value);
}

/** UNSPECIFIED reads as "allow", which is what the server does with it (rule HOOK-1). */
export function beforeSendFailureActionName(value: BeforeSendFailureAction): BeforeSendFailureActionName {
  return value === BeforeSendFailureAction.REJECT ? "reject" : "allow";
}
