// What both stores share of reactions (rules RCT-4, RCT-5, RCT-7): the ReactionChanged event a
// change appends, and the tallies of a page of history built from their grouped rows. The stores
// only read and write the rows (table `reactions`, one row per message, reaction and user).
import { create } from "@bufbuild/protobuf";
import { EventSchema, type Event } from "@narrowcast/gen";
import type { ReactionChange, ReactionTally } from "./types.js";

/** RCT-7: the event announcing a change, with the reaction's count after it. */
export function reactionChangedEvent(groupId: string, messageId: string, seq: number, change: ReactionChange, count: number): Event {
  const { reaction, userId, added } = change;
  return create(EventSchema, {
    payload: { case: "reactionChanged", value: { groupId, messageId, seq: BigInt(seq), reaction, userId, added, count } },
  });
}

/** A grouped row: one reaction on one message, in RCT-5's order within the message. */
export interface TallyRow {
  seq: number;
  reaction: string;
  count: number;
  /** Whether the viewer is among its users. */
  mine: boolean;
}

/** RCT-5: the rows (ordered as the stores' queries order them) as tallies per message seq. */
export function talliesBySeq(rows: readonly TallyRow[]): Map<number, ReactionTally[]> {
  const out = new Map<number, ReactionTally[]>();
  for (const r of rows) {
    let list = out.get(r.seq);
    if (!list) out.set(r.seq, (list = []));
    list.push({ reaction: r.reaction, count: r.count, callerReacted: r.mine });
  }
  return out;
}
