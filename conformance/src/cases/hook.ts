// App backends (HOOK, spec section 16): an optional area — it runs with --webhooks only, as the
// server under test must reach the suite's webhook receiver (src/webhook-receiver.ts).
import { hookBeforeSendCases } from "./hook-before-send.js";
import { hookConfigCases } from "./hook-config.js";
import { hookDeadLetterCases } from "./hook-dead-letters.js";
import { hookDeliveryCases } from "./hook-delivery.js";
import { hookPushCases } from "./hook-push.js";

export const hookCases = [...hookConfigCases, ...hookDeliveryCases, ...hookDeadLetterCases, ...hookBeforeSendCases, ...hookPushCases];
