// The SQL index of the rules module's event audiences (rules/audiences.ts): `spanSeesEventSql` is
// `spanReceives` and `spanContainsEventSql` is `spanContains`, written as predicates both stores
// use for live fan-out, recovery and replay alike, so the three cannot disagree (EVT-2, VIS-2).
// The store contract suite checks what they select against the pure functions.
import { AUDIENCE } from "../rules/index.js";

/**
 * SQL: the membership span `m` (a `memberships` row) receives the stored event `e` (an `events`
 * row), given that the span contains the event (m.join_event_id <= e.event_id <= m.left_event_id).
 * USER events are not span events: they belong to `e.user_id` alone.
 */
export function spanSeesEventSql(e: string, m: string): string {
  const { GROUP, TARGETED_ALL, USER, HISTORY } = AUDIENCE;
  return `(${e}.audience <> ${USER}
    AND (${e}.audience IN (${GROUP}, ${TARGETED_ALL}) OR ${m}.join_seq < ${e}.target_seq)
    AND (${e}.audience IN (${GROUP}, ${HISTORY}) OR EXISTS (SELECT 1 FROM message_audience a
         WHERE a.app_id = ${e}.app_id AND a.group_id = ${e}.group_id AND a.user_id = ${m}.user_id AND a.seq = ${e}.target_seq)))`;
}

/** SQL: the span `m` contains the event `e` (the member's MemberJoined up to their MemberLeft). */
export function spanContainsEventSql(e: string, m: string): string {
  return `(${m}.join_event_id <= ${e}.event_id AND (${m}.left_event_id IS NULL OR ${m}.left_event_id >= ${e}.event_id))`;
}
