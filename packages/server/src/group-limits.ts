// Per-type group limits (rules GRP-13, GRP-14): the reference defaults, overridable per type
// through ServerOptions.groupLimits. The same values are enforced by the store and declared by
// ServerService.GetServerInfo, so a client can rely on what it reads there.
import { GroupType } from "@narrowcast/gen";
import type { GroupLimits } from "./store/types.js";

/** Group types that have limits (every type but UNSPECIFIED), in enum order. */
export const GROUP_TYPES: readonly GroupType[] = [
  GroupType.WORK,
  GroupType.PUBLIC,
  GroupType.MEETING,
  GroupType.COMMUNITY,
  GroupType.AVCHATROOM,
];

const DEFAULT_MAX_MEMBERS: Record<number, number> = {
  [GroupType.WORK]: 2_000,
  [GroupType.PUBLIC]: 5_000,
  [GroupType.MEETING]: 10_000,
  [GroupType.COMMUNITY]: 100_000,
  [GroupType.AVCHATROOM]: 1_000_000,
};

/** GRP-14 applies to the large free-join types only; 0 means member events always go to everyone. */
const DEFAULT_MEMBER_EVENTS_MAX: Record<number, number> = {
  [GroupType.COMMUNITY]: 1_000,
  [GroupType.AVCHATROOM]: 1_000,
};

export type GroupLimitsOption = Partial<Record<GroupType, Partial<GroupLimits>>>;

/** Resolves the limits of every type from the defaults and the (partial) overrides. */
export function resolveGroupLimits(overrides: GroupLimitsOption = {}): (type: GroupType) => GroupLimits {
  const table = new Map<GroupType, GroupLimits>();
  for (const type of GROUP_TYPES) {
    const o = overrides[type] ?? {};
    const limits: GroupLimits = {
      maxMembers: o.maxMembers ?? DEFAULT_MAX_MEMBERS[type],
      memberEventsMaxMembers: o.memberEventsMaxMembers ?? DEFAULT_MEMBER_EVENTS_MAX[type] ?? 0,
    };
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 0 || (name === "maxMembers" && value < 1)) {
        throw new Error(`groupLimits.${GroupType[type]}.${name} must be a ${name === "maxMembers" ? "positive" : "non-negative"} integer`);
      }
    }
    table.set(type, limits);
  }
  return (type) => {
    const limits = table.get(type);
    if (!limits) throw new Error(`no limits for group type ${type}`);
    return limits;
  };
}

/** Parses the CLI form "WORK=2000,PUBLIC=5000" into maxMembers overrides. */
export function parseMaxGroupMembers(text: string): GroupLimitsOption {
  const out: GroupLimitsOption = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Z]+)=(\d+)$/.exec(part);
    const type = m ? (GroupType as unknown as Record<string, GroupType>)[m[1]] : undefined;
    if (!m || type === undefined || !GROUP_TYPES.includes(type)) throw new Error(`bad --max-group-members entry "${part}" (TYPE=N)`);
    out[type] = { maxMembers: Number(m[2]) };
  }
  return out;
}
