// Mutants tried and removed from the corpus because they do not change what the server does (or
// change nothing the spec pins down), each with the reason. docs/mutants.md lists them.

export interface RemovedMutant {
  id: string;
  rule: string;
  bug: string;
  reason: string;
}

export const removedMutants: readonly RemovedMutant[] = [
  {
    id: "rate-limit-initial-burst-doubled",
    rule: "MSG-5",
    bug: "Starts each group's bucket with twice the rate's tokens.",
    reason: "Equivalent: the next statement clamps the bucket to the rate before any token is taken (the corpus keeps rate-limit-burst-doubled, which raises the clamp instead).",
  },
  {
    id: "token-other-algorithms-shape",
    rule: "AUTH-2",
    bug: "The token shape check accepts any HMAC algorithm (HS384, HS512) in the header.",
    reason: "Equivalent on its own: jose's verify is also told to accept HS256 only, so the token is still TOKEN_INVALID; likewise widening jose's list alone is masked by the shape check. auth-token-algorithms checks the behaviour.",
  },
  {
    id: "store-mentioned-all-without-join-floor",
    rule: "UNR-8",
    bug: "Drops the `last_at_all_seq > join_seq` term from mentioned_all (both stores).",
    reason: "Equivalent: a member's read position is never below their join seq, so the read-position term already implies it.",
  },
  {
    id: "store-sender-counts-own-targeted",
    rule: "UNR-5",
    bug: "Counts the sender's own targeted message in the sender's targeted-unread counter.",
    reason: "Equivalent: the same transaction moves the sender's read position past the message (UNR-5), which clears the count.",
  },
  {
    id: "pg-append-idempotency-window-reversed",
    rule: "MSG-10",
    bug: "Reverses the window comparison of the plpgsql append function's own idempotency check.",
    reason: "Equivalent: the send context's lookup before it answers every retry in the window; the function's check only serves concurrent first sends, which still return the original.",
  },
  {
    id: "span-contains-boundary-strict",
    rule: "VIS-2",
    bug: "Uses < for <= on the span boundaries of spanContainsEventSql.",
    reason: "Equivalent: an event ID equals a span's join or leave event only for the member events themselves, whose GROUP or USER audience never goes through this predicate.",
  },
  {
    id: "replay-left-event-inclusive",
    rule: "EVT-3",
    bug: "Uses >= for > when replay skips spans that ended before the cursor.",
    reason: "Equivalent: the comparison only prunes spans early; the span predicate decides the events either way.",
  },
  {
    id: "schema-column-defaults",
    rule: "CNV-2",
    bug: "Changes the default of a counter column (last_eligible, part).",
    reason: "Equivalent: every insert sets those columns explicitly.",
  },
];
