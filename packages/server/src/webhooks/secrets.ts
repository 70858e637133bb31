// Webhook signing secrets (rule HOOK-4): `whsec_` and the base64 of 32 random bytes, the form the
// Standard Webhooks libraries accept as is.
import { randomBytes } from "node:crypto";

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}
