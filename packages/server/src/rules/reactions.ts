// Reactions (rules RCT-2, RCT-4, RCT-5): what a reaction may be, how many a message may have, and
// the order their counts and listings follow. Who may react and who is told are DRV-1's, decided
// by visibility.ts and audiences.ts like every derived item's.

/** RCT-2: a reaction is 1 to this many Unicode code points. */
export const MAX_REACTION_CODE_POINTS = 32;
/** RCT-4: distinct reactions one message may have. */
export const MAX_DISTINCT_REACTIONS = 20;

/** RCT-2: why `reaction` is not a valid reaction, or undefined when it is. */
export function reactionProblem(reaction: string): string | undefined {
  const points = [...reaction];
  if (points.length === 0) return "reaction is required";
  if (points.length > MAX_REACTION_CODE_POINTS) return `reaction is longer than ${MAX_REACTION_CODE_POINTS} code points`;
  if (/\p{Cc}/u.test(reaction)) return "reaction must not contain control characters";
  if (/^\p{White_Space}+$/u.test(reaction)) return "reaction must not be only white space";
  if (/\p{Cs}/u.test(reaction)) return "reaction must be valid Unicode";
  return undefined;
}

/**
 * RCT-4: whether adding `reaction` to a message whose distinct reactions are `present` goes over
 * the limit (a reaction it already has never does).
 */
export function exceedsReactionLimit(present: readonly string[], reaction: string): boolean {
  return !present.includes(reaction) && present.length >= MAX_DISTINCT_REACTIONS;
}

/**
 * Code point order of two strings (RCT-5, RCT-6): the order of their UTF-8 bytes, which the
 * stores sort by (SQLite's BINARY, PostgreSQL's "C" collation), unlike JavaScript's `<` on UTF-16.
 */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
