// A deterministic sample of the corpus (CI runs one; a seed picks which).
import type { Mutant } from "./types.js";

/** `n` mutants chosen by a seeded shuffle, in corpus order. */
export function sampleMutants(mutants: readonly Mutant[], n: number, seed: number): Mutant[] {
  let state = (seed >>> 0) || 1;
  const random = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
  const order = mutants.map((m, i) => ({ i, key: random() }));
  order.sort((a, b) => a.key - b.key);
  const picked = new Set(order.slice(0, n).map((o) => o.i));
  return mutants.filter((_, i) => picked.has(i));
}
