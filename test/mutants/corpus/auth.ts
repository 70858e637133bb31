// Mutants of authentication and the rate limiter (packages/server/src/auth.ts, rate-limit.ts).
import { defineMutants } from "../types.js";

export const authMutants = defineMutants([
  {
    id: "token-cache-ignores-expiry",
    rule: "AUTH-3",
    bug: "A token verified once is trusted from the cache until evicted, even after its exp has passed.",
    file: "auth.ts",
    from: 'if (hit.exp <= seconds) throw narrowcastError(ErrorReason.TOKEN_EXPIRED, "token expired");',
    to: "",
  },
  {
    id: "token-cache-ignores-rotation",
    rule: "ADM-9",
    bug: "A token verified once stays valid after its app's secret is rotated without grace.",
    file: "auth.ts",
    from: "if (!hit || !acceptedSecrets(app, now).includes(hit.secret)) return undefined;",
    to: "if (!hit) return undefined;",
  },
  {
    id: "token-clock-tolerance",
    rule: "AUTH-3",
    bug: "Verifies exp and nbf with two minutes of clock tolerance.",
    file: "auth.ts",
    from: "clockTolerance: 0,",
    to: "clockTolerance: 120,",
  },
  {
    id: "deleted-user-token-accepted",
    rule: "ADM-11",
    bug: "Does not check that a token's user still exists.",
    file: "auth.ts",
    from: "    if (!exists) throw invalid();\n",
    to: "",
  },
  {
    id: "admin-key-length-unchecked",
    rule: "AUTH-4",
    bug: "Compares the admin key only when the lengths match, and lets a key of another length through.",
    file: "auth.ts",
    from: "if (!token || a.length !== b.length || !timingSafeEqual(a, b)) {",
    to: "if (!token || (a.length === b.length && !timingSafeEqual(a, b))) {",
  },
  {
    id: "rate-limit-burst-doubled",
    rule: "MSG-5",
    bug: "Lets a bucket fill up to twice the rate while the group is quiet, so the burst exceeds the declared bound.",
    file: "rate-limit.ts",
    from: "b.tokens = Math.min(this.perSecond, b.tokens + ((t - b.at) / 1000) * this.perSecond);",
    to: "b.tokens = Math.min(this.perSecond * 2, b.tokens + ((t - b.at) / 1000) * this.perSecond);",
  },
  {
    id: "rate-limit-retry-delay-zero",
    rule: "ERR-5",
    bug: "Answers RATE_LIMITED with a RetryInfo delay of zero.",
    file: "rate-limit.ts",
    from: "return tokens >= 1 ? 0 : ((1 - tokens) / this.perSecond) * 1000;",
    to: "return 0;",
    survives:
      "The server never sends a RetryInfo under 1 ms, so the bug shows only as a delay shorter than the bucket's refill (25 ms at the reference rate): catching it means timing a retry against the refill, which a network suite on a loaded machine cannot do without false failures.",
  },
  {
    id: "rate-limit-per-app",
    rule: "MSG-5",
    bug: "Keys the send rate's bucket by app instead of by group.",
    file: "services/messaging.ts",
    from: "const bucket = `${appId}\\u0000${groupId}`;",
    to: "const bucket = `${appId}`;",
  },
]);
