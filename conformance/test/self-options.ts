// Server options the self tests start the reference server with.
import { GroupType } from "@narrowcast/gen";
import type { ServerOptions } from "@narrowcast/server";

/**
 * Small limits so the cases that need them run instead of skipping: CURSOR_EXPIRED (EVT-10) needs
 * a short event retention (5 s, so that on a loaded machine the cursors other cases resume from
 * stay younger than it), GROUP_FULL (GRP-13) a small group type, and GRP-14 a small member-event
 * threshold. Shared with self-postgres.test.ts.
 */
export const selfTestOptions: Partial<ServerOptions> = {
  eventRetentionSeconds: 5,
  eventPruneIntervalMs: 500,
  groupLimits: { [GroupType.PUBLIC]: { maxMembers: 12 }, [GroupType.COMMUNITY]: { memberEventsMaxMembers: 5 } },
};
