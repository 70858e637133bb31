// Where a stored event sits in its app's log (rules EVT-3, EVT-8, EVT-11). The log is split into
// PARTITIONS partitions; a group's events all go to the group's partition, numbered 1, 2, 3, … in
// commit order there (each partition has its own counter row, locked only to COMMIT by the
// transaction appending to it). So an app has no single serialization point, and a group's order
// is its partition's order. A reader's place in the log is one position per partition: a vector,
// carried opaquely in cursors (cursor.ts).

/**
 * Partitions per app. Fixed: cursors hold one position per partition, so changing it would
 * invalidate every cursor issued. 16 keeps a cursor short (at most ~180 bytes, EVT-11) while
 * eight concurrent writers of one app rarely meet on one counter row.
 */
export const PARTITIONS = 16;

/** One position per partition: every event at or below positions[p] in partition p is "before". */
export type Positions = number[];

/** The partition a new group's events go to (FNV-1a of the group ID). Stored with the group. */
export function partitionOf(groupId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < groupId.length; i++) {
    h ^= groupId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % PARTITIONS;
}

/** A vector of zeros: the start of every app's log. */
export function origin(): Positions {
  return new Array<number>(PARTITIONS).fill(0);
}

/** Whether `a` is at or past `b` in every partition. */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  for (let p = 0; p < PARTITIONS; p++) if (a[p] < b[p]) return false;
  return true;
}

/** The later of `a` and `b` in each partition. */
export function later(a: readonly number[], b: readonly number[]): Positions {
  const out = origin();
  for (let p = 0; p < PARTITIONS; p++) out[p] = Math.max(a[p], b[p]);
  return out;
}
