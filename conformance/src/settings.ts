// What the suite is told about the server under test's configuration. The suite cannot change a
// third-party server's settings, so the operator states them (CLI flags); cases use them to reach
// a limit (and skip when it is out of reach), and srv-declares-settings checks that ServerInfo
// declares the same values (SRV-1). Defaults are the spec's reference values.

export interface ServerSettings {
  /** The sender's recall window in seconds (MSG-11; reference 120). */
  recallWindowSeconds: number;
  /** The sender's edit window in seconds (EDT-2; reference 86,400). */
  editWindowSeconds: number;
  /** Sends accepted per second per group on one node (MSG-5; reference 40). */
  sendRatePerGroup: number;
  /** How long events stay replayable, in seconds (EVT-10; reference 7 days). */
  eventRetentionSeconds: number;
  /**
   * Bytes of events (binary encoding) a subscription may have queued before it is cut with
   * SLOW_CONSUMER (EVT-6; reference 4 MiB).
   */
  subscriberBufferBytes: number;
}

export const specDefaultSettings: Readonly<ServerSettings> = {
  recallWindowSeconds: 120,
  editWindowSeconds: 86_400,
  sendRatePerGroup: 40,
  eventRetentionSeconds: 7 * 86_400,
  subscriberBufferBytes: 4 * 1024 * 1024,
};

/** The settings with every value not given taken from the spec's defaults. */
export function resolveSettings(given: Partial<ServerSettings> = {}): ServerSettings {
  const settings = { ...specDefaultSettings };
  for (const [key, value] of Object.entries(given) as [keyof ServerSettings, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value <= 0) throw new Error(`server setting ${key} must be a positive number, got ${value}`);
    settings[key] = value;
  }
  return settings;
}
