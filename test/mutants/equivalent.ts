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
];
