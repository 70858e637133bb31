import { Edition, GroupType, MemberRole, MessagePriority } from "@narrowcast/gen";

/** A group type as the enum or by lower-case name ("work", "public", …). */
export type GroupTypeInit = GroupType | "work" | "public" | "meeting" | "community" | "avchatroom";

/** An edition as the enum or by lower-case name. */
export type EditionInit = Edition | "standard" | "ultimate";

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

export function parseEdition(value: EditionInit | string): Edition {
  return parseEnum<Edition>("edition", Edition, value);
}

/** Enum names for display, e.g. groupTypeName(GroupType.WORK) === "WORK". */
export const groupTypeName = (value: GroupType): string => GroupType[value] ?? String(value);
export const editionName = (value: Edition): string => Edition[value] ?? String(value);
export const roleName = (value: MemberRole): string => MemberRole[value] ?? String(value);
export const priorityName = (value: MessagePriority): string => MessagePriority[value] ?? String(value);
