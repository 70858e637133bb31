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

/**
 * The optional HOOK area (spec section 16): the suite starts an HTTP receiver and points the
 * server's webhooks at it, so it runs only when the operator says the server can reach it.
 */
export interface WebhookSettings {
  /** Whether the HOOK cases run (--webhooks); without it they are skipped. */
  enabled: boolean;
  /** The address the receiver binds to and names in the URLs it gives the server. */
  host: string;
  /** The server's retry base delay in ms (HOOK-8; reference 1,000). */
  retryBaseMs: number;
  /** The server's retry delay cap in ms (HOOK-8; reference 600,000). */
  retryCapMs: number;
  /** The server's attempts per delivery before it becomes a dead letter (HOOK-8; reference 10). */
  maxAttempts: number;
}

export const defaultWebhookSettings: Readonly<WebhookSettings> = {
  enabled: false,
  host: "127.0.0.1",
  retryBaseMs: 1000,
  retryCapMs: 600_000,
  maxAttempts: 10,
};

/** The webhook settings with every value not given taken from the defaults. */
export function resolveWebhookSettings(given: Partial<WebhookSettings> = {}): WebhookSettings {
  const settings = { ...defaultWebhookSettings };
  if (given.enabled !== undefined) settings.enabled = given.enabled;
  if (given.host !== undefined && given.host !== "") settings.host = given.host;
  for (const key of ["retryBaseMs", "retryCapMs", "maxAttempts"] as const) {
    const value = given[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value <= 0) throw new Error(`webhook setting ${key} must be a positive integer, got ${value}`);
    settings[key] = value;
  }
  return settings;
}

/** The longest the n-th retry may wait (HOOK-8: d = min(base × 2^(n−1), cap)). */
export function retryDelayBoundMs(settings: WebhookSettings, n: number): number {
  return Math.min(settings.retryBaseMs * 2 ** (n - 1), settings.retryCapMs);
}

/** The longest the retries after the first `attempts` attempts of one delivery may wait in total. */
export function retriesBoundMs(settings: WebhookSettings, attempts: number): number {
  let total = 0;
  for (let n = 1; n < attempts; n++) total += retryDelayBoundMs(settings, n);
  return total;
}
