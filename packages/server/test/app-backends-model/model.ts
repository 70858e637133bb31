// The reference model of app-backend deliveries (spec section 16: HOOK-6, HOOK-13): from the
// operations that committed, which deliveries an app's backend MUST eventually get, each named by
// a key (what it is about) with how many distinct deliveries (webhook-ids) it gets and what they
// must say. Written from docs/spec.md, not from the server.
import { WebhookEventType } from "@narrowcast/gen/admin";

export interface GroupState {
  id: string;
  owner: string;
  members: Set<string>;
  /** How often each user joined: a sender who left and came back no longer sees older messages (VIS-1). */
  joins: Map<string, number>;
}

export interface MessageState {
  id: string;
  group: string;
  sender: string;
  /** A targeted message's receivers; empty for an ordinary one. */
  receivers: string[];
  /** Online-only messages are not stored (HOOK-6): no event, no push. */
  stored: boolean;
  recalled: boolean;
  /** The sender's join count at send (GroupState.joins). */
  senderJoin: number;
}

/** What the deliveries of one key must carry beyond the key (compared as a canonical string). */
export interface Expected {
  count: number;
  detail: string;
  /** The rule a wrong or extra delivery of this kind breaks. */
  rule: string;
}

export class DeliveryModel {
  readonly groups = new Map<string, GroupState>();
  readonly messages = new Map<string, MessageState>();
  /** Users with a stream that got `ready` (HOOK-13's "open event stream"). */
  readonly online = new Set<string>();
  /** The webhook's event types; undefined without a webhook (or after DeleteWebhook). */
  webhook: Set<WebhookEventType> | undefined;
  /** Deliveries that must arrive, by key. */
  readonly expected = new Map<string, Expected>();
  /** Stored messages committed while the webhook listed PUSH_REQUESTED: each needs its push requests worked out. */
  fanouts = 0;

  private lists(type: WebhookEventType): boolean {
    return this.webhook?.has(type) ?? false;
  }

  private expect(key: string, detail: string, rule: string): void {
    const e = this.expected.get(key);
    if (e) e.count++;
    else this.expected.set(key, { count: 1, detail, rule });
  }

  setWebhook(types: readonly WebhookEventType[]): void {
    this.webhook = new Set(types);
  }

  deleteWebhook(): void {
    this.webhook = undefined;
  }

  createGroup(id: string, owner: string, members: readonly string[]): void {
    this.groups.set(id, { id, owner, members: new Set(), joins: new Map() });
    this.join(id, owner);
    for (const m of members) this.join(id, m);
  }

  join(group: string, user: string): void {
    const g = this.groups.get(group)!;
    g.members.add(user);
    g.joins.set(user, (g.joins.get(user) ?? 0) + 1);
    if (this.lists(WebhookEventType.MEMBER_JOINED)) this.expect(joinedKey(group, user), "", "HOOK-6");
  }

  leave(group: string, user: string): void {
    this.groups.get(group)!.members.delete(user);
    if (this.lists(WebhookEventType.MEMBER_LEFT)) this.expect(leftKey(group, user), "", "HOOK-6");
  }

  /** A message the server accepted; `stored` false for online-only sends. */
  send(m: Omit<MessageState, "recalled" | "senderJoin">): void {
    this.messages.set(m.id, { ...m, recalled: false, senderJoin: this.groups.get(m.group)!.joins.get(m.sender) ?? 0 });
    if (!m.stored) return;
    if (this.lists(WebhookEventType.MESSAGE_SENT)) this.expect(sentKey(m.id), receiversDetail(m.receivers), "HOOK-6");
    if (!this.lists(WebhookEventType.PUSH_REQUESTED)) return;
    this.fanouts++;
    // VIS-1 at send time: a targeted message's receivers, an ordinary one's members then.
    const audience = m.receivers.length > 0 ? m.receivers : [...this.groups.get(m.group)!.members];
    for (const user of audience) {
      if (user === m.sender || this.online.has(user)) continue;
      this.expect(pushKey(m.id, user), pushDetail(m), "HOOK-13");
    }
  }

  /** Whether the sender has been a member since sending (and so may still see and recall it). */
  senderStillSees(m: MessageState): boolean {
    const g = this.groups.get(m.group)!;
    return g.members.has(m.sender) && g.joins.get(m.sender) === m.senderJoin;
  }

  recall(id: string): void {
    const m = this.messages.get(id)!;
    m.recalled = true;
    if (this.lists(WebhookEventType.MESSAGE_RECALLED)) this.expect(recalledKey(id), receiversDetail(m.receivers), "HOOK-6");
  }

  /** Every expected key's count, for reports. */
  summary(): Record<string, number> {
    const byKind: Record<string, number> = {};
    for (const [key, e] of this.expected) {
      const kind = key.split(" ")[0]!;
      byKind[kind] = (byKind[kind] ?? 0) + e.count;
    }
    return byKind;
  }
}

export const sentKey = (messageId: string) => `message.sent ${messageId}`;
export const recalledKey = (messageId: string) => `message.recalled ${messageId}`;
export const joinedKey = (group: string, user: string) => `member.joined ${group} ${user}`;
export const leftKey = (group: string, user: string) => `member.left ${group} ${user}`;
export const pushKey = (messageId: string, user: string) => `push.requested ${messageId} ${user}`;

export function receiversDetail(receivers: readonly string[]): string {
  return `receivers=[${[...receivers].sort().join(",")}]`;
}

export function pushDetail(m: { group: string; sender: string; receivers: readonly string[] }): string {
  return `group=${m.group} sender=${m.sender} targeted=${m.receivers.length > 0}`;
}
