// Server options the self tests start the reference server with, and the settings the suite is
// told (its --recall-window, --edit-window, --rate-limit, --event-retention and --subscriber-buffer-bytes flags).
import { GroupType } from "@narrowcast/gen";
import type { ServerOptions } from "@narrowcast/server";
import type { ServerSettings } from "../src/settings.js";

/**
 * Small limits so the cases that need them run instead of skipping: CURSOR_EXPIRED (EVT-10) needs
 * a short event retention (8 s, so that on a loaded machine the cursors other cases resume from
 * stay younger than it; evt-cursor-expired needs at most 10 s), RECALL_WINDOW_EXPIRED (MSG-11) a short recall window (4 s: recalls
 * within it must still succeed on a loaded machine), EDIT_WINDOW_EXPIRED (EDT-2) a short edit window
 * (15 s: several cases edit after a few calls, which on a loaded machine took more than 4 s;
 * edt-window-expired waits it out), SLOW_CONSUMER (EVT-6) a small subscriber
 * buffer, GROUP_FULL (GRP-13) a small group type, and GRP-14 a small member-event threshold.
 * Shared with self-postgres.test.ts and the mutant runner (test/mutants).
 */
export const selfTestOptions = {
  eventRetentionSeconds: 8,
  eventPruneIntervalMs: 500,
  recallWindowSeconds: 4,
  editWindowSeconds: 15,
  subscriberBufferBytes: 512 * 1024,
  groupLimits: { [GroupType.PUBLIC]: { maxMembers: 12 }, [GroupType.COMMUNITY]: { memberEventsMaxMembers: 5 } },
  // Fast webhook retries, so the HOOK cases of retries and dead letters (HOOK-8, HOOK-9) run in seconds.
  webhookRetry: { baseMs: 50, capMs: 200, maxAttempts: 4 },
} satisfies Partial<ServerOptions>;

/** The HOOK area on (a receiver inside the suite), told the retry settings above (--webhooks and its flags). */
export const selfTestWebhooks = {
  enabled: true,
  host: "127.0.0.1",
  retryBaseMs: selfTestOptions.webhookRetry.baseMs,
  retryCapMs: selfTestOptions.webhookRetry.capMs,
  maxAttempts: selfTestOptions.webhookRetry.maxAttempts,
};

/** What the suite is told about a server started with selfTestOptions. */
export const selfTestSettings: ServerSettings = {
  recallWindowSeconds: selfTestOptions.recallWindowSeconds,
  editWindowSeconds: selfTestOptions.editWindowSeconds,
  sendRatePerGroup: 40,
  eventRetentionSeconds: selfTestOptions.eventRetentionSeconds,
  subscriberBufferBytes: selfTestOptions.subscriberBufferBytes,
};
