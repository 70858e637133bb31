// One node's side of the app backends (spec section 16): its presence record (who has a stream
// here, for push requests, HOOK-13) and the dispatcher that works through the shared outbox
// (HOOK-6 to HOOK-8). The services see it as `Deps.backends`.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { AppBackends } from "../context.js";
import type { Store } from "../store/types.js";
import { WebhookDispatcher } from "./dispatcher.js";
import { Presence } from "./presence.js";

export interface RunningAppBackends extends AppBackends {
  /** A commit of the app happened on this node: wake the dispatcher if the app has a webhook. */
  committed(appId: string): void;
  /** Stops dispatching (attempts in flight finish) and withdraws this node's presence. */
  stop(): Promise<void>;
}

export interface AppBackendsOptions {
  log: Logger;
  now: () => number;
  retry?: { baseMs?: number; capMs?: number; maxAttempts?: number };
  /** The periodic look for deliveries (ms; 0: none). */
  pollMs?: number;
}

export async function startAppBackends(store: Store, options: AppBackendsOptions): Promise<RunningAppBackends> {
  const { log, now } = options;
  const nodeId = `node_${randomBytes(8).toString("hex")}`;
  const presence = new Presence(store, { nodeId, now, log });
  await presence.start();
  // Apps this node knows to have a webhook: only their commits wake the dispatcher, so apps
  // without one cost no outbox query per send. The periodic look finds the rest (other nodes'
  // configurations) and teaches this set.
  const knownApps = new Set<string>();
  const dispatcher = new WebhookDispatcher({
    store,
    presence,
    log,
    now,
    retry: options.retry,
    pollMs: options.pollMs ?? 1000,
    onClaim: (appId) => knownApps.add(appId),
  });
  dispatcher.start();
  return {
    nudge(appId) {
      knownApps.add(appId);
      dispatcher.nudge();
    },
    committed(appId) {
      if (knownApps.has(appId)) dispatcher.nudge();
    },
    async streamOpened(appId, userId) {
      // A presence that could not be recorded costs at most a needless push request; never the stream.
      await presence.opened(appId, userId).catch((err: unknown) => log.warn({ err, appId }, "recording presence failed"));
    },
    streamClosed(appId, userId) {
      presence.closed(appId, userId);
    },
    async stop() {
      await dispatcher.stop();
      await presence.stop();
    },
  };
}
