// After every step: each open stream against the user's expected events (exact events, per-group
// order EVT-8, replay before ready and live after, nothing missing or repeated; MessageEdited as
// announced, or recalled on replay after a recall, EDT-4; ReactionChanged, RCT-7; MessageRead to the
// sender alone, RCP-5), ListConversations of every user (CNV-1..3, UNR-1..8; the last message with
// its current text and edit count, EDT-3, and no reactions, read receipts or resolved quote), and
// for the group the step touched ListMessages and GetMessage for every user (MSG-12, MSG-14,
// VIS-1..3, TGT-4, TGT-8), messages compared with their current
// content, custom data, EditInfo (EDT-3), reactions as that user sees them (RCT-5), a reply's
// quote as they may see it (RPL-3) and, for the sender, read receipt counts (RCP-4); after a
// reaction step ListReactions of the message for every user (RCT-6), after a send asking for
// receipts or an acknowledgement ListReadReceipts (RCP-4). A full sweep every K steps.
import { ReadState, type Message } from "@narrowcast/gen";
import { attempt } from "./clients.js";
import { GUARD_MS, type Driver } from "./driver.js";
import { ModelFailure } from "./failure.js";
import { Model, type ConversationView, type MessageModel } from "./model.js";
import { REACTIONS } from "./generator.js";
import { renderLast, renderReceived, toNs, type ExpectedItem, type ModelStream } from "./stream.js";

interface StreamCheckState {
  processed: number;
  dropped: number;
  matched: Map<string, number>;
  byGroup: Map<string, ExpectedItem[]>;
  grouped: number;
}

const states = new WeakMap<ModelStream, StreamCheckState>();

function stateOf(s: ModelStream): StreamCheckState {
  let st = states.get(s);
  if (!st) states.set(s, (st = { processed: 0, dropped: 0, matched: new Map(), byGroup: new Map(), grouped: 0 }));
  for (; st.grouped < s.expected.length; st.grouped++) {
    const e = s.expected[st.grouped]!;
    const phase = st.grouped < s.replayCount ? "r" : "l";
    const k = `${phase}|${e.group}`;
    let list = st.byGroup.get(k);
    if (!list) st.byGroup.set(k, (list = []));
    list.push(e);
  }
  return st;
}

export class Checker {
  constructor(private readonly d: Driver) {}

  /** Waits until every open stream has what the model expects, then matches it item by item. */
  async streams(): Promise<void> {
    await Promise.all([...this.d.streams.values()].map((s) => this.stream(s)));
  }

  private async stream(s: ModelStream): Promise<void> {
    const st = stateOf(s);
    const enough = () => s.received.length - st.dropped >= s.expected.length;
    for (let round = 0; round < 3 && !enough(); round++) {
      await s.until(enough, GUARD_MS);
      this.process(s, st);
    }
    this.process(s, st);
    if (s.ended) throw new ModelFailure("EVT-1", `${s.label} ended`, "an open stream", s.error?.message ?? "end of stream");
    if (!enough()) {
      const missing = [...st.byGroup.entries()].flatMap(([k, list]) => list.slice(st.matched.get(k) ?? 0).map((e) => e.key));
      throw new ModelFailure("EVT-1/EVT-3", `${s.label} is missing events`, missing, "not delivered");
    }
  }

  private process(s: ModelStream, st: StreamCheckState): void {
    stateOf(s);
    for (; st.processed < s.received.length; st.processed++) {
      const item = s.received[st.processed]!;
      const k = `${item.replay ? "r" : "l"}|${item.group}`;
      const list = st.byGroup.get(k) ?? [];
      const at = st.matched.get(k) ?? 0;
      const want = list[at];
      const tolerateAlt = this.d.tolerate.meetingRejoinLast && want?.altKey === item.key;
      if (!want || (want.key !== item.key && !tolerateAlt)) {
        if (this.tolerated(s.user, item.key)) {
          st.dropped++;
          continue;
        }
        const rule = item.key.startsWith("MessageRecalled")
          ? "VIS-2/EVT-2"
          : item.key.startsWith("MessageEdited") || want?.key.startsWith("MessageEdited")
            ? "EDT-4/DRV-1"
            : item.key.startsWith("ReactionChanged") || want?.key.startsWith("ReactionChanged")
              ? "RCT-7/DRV-1"
              : item.key.startsWith("MessageRead") || want?.key.startsWith("MessageRead")
                ? "RCP-5/DRV-1"
              : item.replay
                ? "EVT-3/EVT-8"
                : "EVT-2/EVT-8";
        throw new ModelFailure(rule, `${s.label}: event ${at} of ${item.replay ? "the replay" : "the live part"} of group ${item.group}`, list.slice(at, at + 3).map((e) => e.key), [item.key]);
      }
      st.matched.set(k, at + 1);
      item.index = want.index;
      s.running.add(want.index);
      if (item.cursor) {
        const c = { cursor: item.cursor, covered: s.running.copy() };
        s.last = c;
        this.d.saveCursor(s.user, c);
      }
    }
    if (s.isReady && !s.readyNoted) {
      const replayDone = [...st.byGroup.entries()].filter(([k]) => k.startsWith("r|")).every(([k, list]) => (st.matched.get(k) ?? 0) === list.length);
      if (!replayDone) return;
      s.readyNoted = true;
      for (let i = 0; i < s.openAt; i++) s.running.add(i);
      // The ready cursor is the latest one only if no event with a cursor came after it; events
      // processed above were replay events, which ready follows.
      if (s.readyCursor) {
        const c = { cursor: s.readyCursor, covered: s.running.copy() };
        const liveWithCursor = s.received.some((r) => !r.replay && r.cursor);
        if (!liveWithCursor) {
          s.last = c;
          this.d.saveCursor(s.user, c);
        }
      }
    }
  }

  /** Known disagreements that the run was told to tolerate (the findings file lists them). */
  private tolerated(user: string, key: string): boolean {
    if (!this.d.tolerate.recallToLeftReceiver || !key.startsWith("MessageRecalled")) return false;
    const id = /id=(\S+)/.exec(key)?.[1] ?? "";
    const m = this.d.model.byId.get(id);
    return !!m && m.spec.receivers.length > 0 && this.d.model.inAudience(user, m);
  }

  /** ListConversations of every user, walking pages of a random size (CNV-1). */
  async conversations(users: readonly string[] = this.d.model.users): Promise<void> {
    await Promise.all(users.map((u) => this.conversationsOf(u)));
  }

  private async conversationsOf(user: string): Promise<void> {
    const api = this.d.user(user);
    const pageSize = this.d.rng.chance(0.1) ? this.d.rng.pick([1, 2, 3]) : 0;
    const got: string[] = [];
    let pageToken = "";
    for (let pages = 0; pages < 100; pages++) {
      const res = await api.conversations.listConversations({ pageSize, pageToken });
      for (const c of res.conversations) {
        const last = c.lastMessage ? renderLast(c.lastMessage) : "";
        const type = ["UNSPECIFIED", "WORK", "PUBLIC", "MEETING", "COMMUNITY", "AVCHATROOM"][c.groupType];
        got.push(`${c.groupId} ${type} unread=${c.unreadCount} read=${c.readSeq} me=${c.mentionedMe} all=${c.mentionedAll} last=${last}`);
      }
      pageToken = res.nextPageToken;
      if (!pageToken) break;
    }
    const render = (c: ConversationView) => Model.conversationKey(c).replace("ConversationUpdated ", "");
    const want = this.d.model.conversations(user).map(render);
    if (same(want, got)) return;
    if (this.d.tolerate.meetingRejoinLast && same(this.d.model.conversations(user, "meetingRejoinLast").map(render), got)) return;
    throw new ModelFailure("CNV-1/CNV-2/UNR-1/UNR-8", `ListConversations of ${user} (page_size ${pageSize})`, want, got);
  }

  /** ListMessages of the group for every user (a random walk direction and page size). */
  async history(group: string, whole = true, users: readonly string[] = this.d.model.users): Promise<void> {
    await Promise.all(users.map((u) => (whole || this.d.model.groups.get(group)!.stored.length <= 60 ? this.historyOf(u, group) : this.recentHistoryOf(u, group))));
  }

  /**
   * The recent end of a long history, so a step costs the same however long the run: the latest
   * page (and whether a token says more follow), or a forward walk from a seq near the end.
   */
  private async recentHistoryOf(user: string, group: string): Promise<void> {
    const model = this.d.model;
    const g = model.groups.get(group)!;
    const rng = this.d.rng;
    const api = this.d.user(user);
    const expectErr = g.dismissed ? "GROUP_NOT_FOUND" : !g.members.has(user) ? "NOT_A_MEMBER" : undefined;
    const visible = expectErr ? [] : model.visibleMessages(user, group);
    if (rng.chance(0.5)) {
      const pageSize = rng.pick([0, 5, 20]);
      const r = await attempt(() => api.messages.listMessages({ groupId: group, pageSize }));
      if (expectErr || !r.ok) {
        if (r.ok || r.reason !== expectErr) throw new ModelFailure("AUTH-5", `ListMessages of ${group} by ${user}`, expectErr ?? "success", r.ok ? "success" : r.reason);
        return;
      }
      const n = pageSize || 20;
      const want = this.views(user, visible.slice(-n));
      const got = r.value.messages.map(renderReceived);
      if (!same(want, got)) throw new ModelFailure(historyRule(want, got), `latest page of ${group} for ${user} (page_size ${pageSize})`, want, got);
      if ((visible.length > n) !== (r.value.nextPageToken !== "")) throw new ModelFailure("MSG-12", `next_page_token of the latest page of ${group} for ${user}`, visible.length > n ? "a token" : "none", r.value.nextPageToken);
      return;
    }
    const after = Math.max(0, g.latestSeq - rng.int(40));
    const got: string[] = [];
    let pageToken = "";
    for (let n = 0; n < 1000; n++) {
      const r = await attempt(() => api.messages.listMessages({ groupId: group, pageSize: rng.pick([0, 3, 10]), pageToken, afterSeq: BigInt(after) }));
      if (expectErr || !r.ok) {
        if (r.ok || r.reason !== expectErr) throw new ModelFailure("AUTH-5", `ListMessages of ${group} by ${user}`, expectErr ?? "success", r.ok ? "success" : r.reason);
        return;
      }
      got.push(...r.value.messages.map(renderReceived));
      pageToken = r.value.nextPageToken;
      if (!pageToken) break;
    }
    const want = this.views(user, visible.filter((m) => m.seq > after));
    if (!same(want, got)) throw new ModelFailure(historyRule(want, got), `ListMessages of ${group} for ${user} after_seq ${after}`, want, got);
  }

  private async historyOf(user: string, group: string): Promise<void> {
    const model = this.d.model;
    const g = model.groups.get(group)!;
    const api = this.d.user(user);
    const rng = this.d.rng;
    // Small pages walk the whole history one RPC per page: only where it is short.
    // Small pages are an RPC per page or so: one walk in ten, so that a step's cost stays low.
    const pageSize = rng.chance(0.1) ? (g.stored.length <= 30 ? rng.pick([1, 2, 3, 7]) : 7) : rng.pick([0, 100]);
    const forward = rng.chance(0.3);
    const beyond = !forward && rng.chance(0.2);
    const anchors = forward ? { afterSeq: 0n } : beyond ? { beforeSeq: BigInt(g.latestSeq + 2) } : {};
    const pages: Message[][] = [];
    let pageToken = "";
    for (let n = 0; n < 10_000; n++) {
      const r = await attempt(() => api.messages.listMessages({ groupId: group, pageSize, pageToken, ...anchors }));
      const expectErr = g.dismissed ? "GROUP_NOT_FOUND" : !g.members.has(user) ? "NOT_A_MEMBER" : undefined;
      if (!r.ok || expectErr) {
        if (r.ok || r.reason !== expectErr) throw new ModelFailure("AUTH-5", `ListMessages of ${group} by ${user}`, expectErr ?? "success", r.ok ? "success" : r.reason);
        return;
      }
      const page = r.value.messages;
      if (page.length === 0 && r.value.nextPageToken) throw new ModelFailure("MSG-12", `ListMessages of ${group} by ${user}: an empty page with a next_page_token`, "", r.value.nextPageToken);
      for (let i = 1; i < page.length; i++) if (page[i]!.seq <= page[i - 1]!.seq) throw new ModelFailure("MSG-12", "a page not in ascending seq order", "ascending", page.map((m) => Number(m.seq)));
      if (forward) pages.push(page);
      else pages.unshift(page);
      pageToken = r.value.nextPageToken;
      if (!pageToken) break;
    }
    const got = pages.flat().map(renderReceived);
    const want = this.views(user, model.visibleMessages(user, group));
    if (!same(want, got)) {
      throw new ModelFailure(historyRule(want, got), `ListMessages of ${group} by ${user} (${forward ? "after_seq 0" : beyond ? "before_seq beyond latest" : "latest first"}, page_size ${pageSize})`, want, got);
    }
  }

  /** ListMembers of the group by one of its members: who is a member, with which role (GRP-5, GRP-10). */
  async members(group: string): Promise<void> {
    const g = this.d.model.groups.get(group)!;
    if (g.dismissed || g.members.size === 0) return;
    const api = this.d.user(this.d.rng.pick([...g.members.keys()]));
    const got: string[] = [];
    let pageToken = "";
    for (let n = 0; n < 100; n++) {
      const res = await api.groups.listMembers({ groupId: group, pageSize: this.d.rng.pick([0, 2]), pageToken });
      got.push(...res.members.map((m) => `${m.userId}:${["?", "OWNER", "ADMIN", "MEMBER"][m.role]}`));
      pageToken = res.nextPageToken;
      if (!pageToken) break;
    }
    const want = [...g.members].map(([u, ms]) => `${u}:${ms.role}`).sort();
    if (!same(want, got)) throw new ModelFailure("GRP-5/GRP-10/PAG-1", `ListMembers of ${group} (user_id order)`, want, got);
  }

  /** ListJoinRequests of a PUBLIC group by its owner or an admin: the pending applicants (GRP-3). */
  async joinRequests(group: string): Promise<void> {
    const g = this.d.model.groups.get(group)!;
    if (g.dismissed || g.type !== "PUBLIC") return;
    const deciders = [...g.members].filter(([, ms]) => ms.role !== "MEMBER").map(([u]) => u);
    if (deciders.length === 0) return;
    const api = this.d.user(this.d.rng.pick(deciders));
    const got: string[] = [];
    let pageToken = "";
    for (let n = 0; n < 100; n++) {
      const res = await api.groups.listJoinRequests({ groupId: group, pageSize: this.d.rng.pick([0, 1, 2]), pageToken });
      got.push(...res.joinRequests.map((r) => `${r.userId}:${r.message}`));
      pageToken = res.nextPageToken;
      if (!pageToken) break;
    }
    const want = [...g.joinRequests].map(([u, note]) => `${u}:${note}`).sort();
    if (!same(want, [...got].sort())) throw new ModelFailure("GRP-3", `ListJoinRequests of ${group}`, want, got);
  }

  /** GetMessage of one message for every user (MSG-14, VIS-1). */
  async getMessage(m: MessageModel, users: readonly string[] = this.d.model.users): Promise<void> {
    await Promise.all(users.map((u) => this.getMessageOf(u, m)));
  }

  private async getMessageOf(user: string, m: MessageModel): Promise<void> {
    const model = this.d.model;
    const g = model.groups.get(m.group)!;
    const r = await attempt(() => this.d.user(user).messages.getMessage({ groupId: m.group, messageId: m.id }));
    const want = g.dismissed ? "GROUP_NOT_FOUND" : !g.members.has(user) ? "NOT_A_MEMBER" : model.maySee(user, m) ? model.viewKey(m, user) : "MESSAGE_NOT_FOUND";
    const got = r.ok ? renderReceived(r.value.message!) : r.reason;
    if (want !== got) throw new ModelFailure(historyRule([want], [got], "MSG-14/VIS-1/VIS-3/TGT-4"), `GetMessage ${m.key} (${m.id}, seq ${m.seq}, group ${m.group}) by ${user}`, want, got);
  }

  /** Messages as `user` must see them in history and GetMessage: with their reactions (RCT-5). */
  private views(user: string, messages: readonly MessageModel[]): string[] {
    return messages.map((m) => this.d.model.viewKey(m, user));
  }

  /**
   * ListReactions of one message for every user (RCT-6, DRV-1): all pages of a random size, for
   * every reaction or one (of the alphabet, so often one the message lacks).
   */
  async reactions(m: MessageModel, users: readonly string[] = this.d.model.users): Promise<void> {
    await Promise.all(users.map((u) => this.reactionsOf(u, m)));
  }

  private async reactionsOf(user: string, m: MessageModel): Promise<void> {
    const model = this.d.model;
    const rng = this.d.rng;
    const g = model.groups.get(m.group)!;
    const api = this.d.user(user);
    const pageSize = rng.pick([0, 0, 1, 2, 3]);
    const only = rng.chance(0.3) ? rng.pick([...new Set([...REACTIONS, ...m.reactions.map((u) => u.reaction)])]) : "";
    const expectErr = g.dismissed ? "GROUP_NOT_FOUND" : !g.members.has(user) ? "NOT_A_MEMBER" : !model.maySee(user, m) ? "MESSAGE_NOT_FOUND" : undefined;
    const what = `ListReactions of ${m.key} (${m.id}, group ${m.group}) by ${user} (page_size ${pageSize}${only ? `, reaction ${JSON.stringify(only)}` : ""})`;
    const got: string[] = [];
    let pageToken = "";
    for (let n = 0; n < 1000; n++) {
      const r = await attempt(() => api.messages.listReactions({ groupId: m.group, messageId: m.id, reaction: only, pageSize, pageToken }));
      if (expectErr || !r.ok) {
        if (r.ok || r.reason !== expectErr) throw new ModelFailure("RCT-6/DRV-1", what, expectErr ?? "success", r.ok ? "success" : r.reason);
        return;
      }
      if (r.value.reactions.length === 0 && r.value.nextPageToken) throw new ModelFailure("RCT-6/PAG-1", `${what}: an empty page with a next_page_token`, "", r.value.nextPageToken);
      got.push(...r.value.reactions.map((x) => `${JSON.stringify(x.reaction)} ${x.userId} ${toNs(x.createTime)}`));
      pageToken = r.value.nextPageToken;
      if (!pageToken) break;
    }
    // create_time is on the servers' clock: as far after server_time as the model's clock moved.
    const at = (ms: number) => m.time + BigInt(ms - m.sentAtMs) * 1_000_000n;
    const want = Model.reactionList(m)
      .filter((u) => !only || u.reaction === only)
      .map((u) => `${JSON.stringify(u.reaction)} ${u.user} ${at(u.atMs)}`);
    if (!same(want, got)) throw new ModelFailure(m.recalled ? "RCT-8" : "RCT-6", what, want, got);
  }

  /**
   * ListReadReceipts of one message for every user (RCP-4, DRV-1): for the sender both states, all
   * pages of a random size, readers by user ID with read_time and the counts on every page;
   * READ_RECEIPTS_SENDER_ONLY for another user who may see it, MESSAGE_NOT_FOUND for one who may not.
   */
  async readReceipts(m: MessageModel, users: readonly string[] = this.d.model.users): Promise<void> {
    await Promise.all(users.map((u) => this.readReceiptsOf(u, m)));
  }

  private async readReceiptsOf(user: string, m: MessageModel): Promise<void> {
    const model = this.d.model;
    const g = model.groups.get(m.group)!;
    const api = this.d.user(user);
    const pageSize = this.d.rng.pick([0, 0, 1, 2]);
    // The sender by user ID (see Model.receiptCounts).
    const expectErr = g.dismissed ? "GROUP_NOT_FOUND" : !g.members.has(user) ? "NOT_A_MEMBER" : !model.maySee(user, m) ? "MESSAGE_NOT_FOUND" : user !== m.sender ? "READ_RECEIPTS_SENDER_ONLY" : undefined;
    const c = Model.receiptCounts(m);
    const counts = `read=${c.read}/${c.unread}`;
    // read_time is on the servers' clock: as far after server_time as the model's clock moved.
    const at = (ms: number) => m.time + BigInt(ms - m.sentAtMs) * 1_000_000n;
    for (const state of [ReadState.READ, ReadState.UNREAD]) {
      const what = `ListReadReceipts of ${m.key} (${m.id}, group ${m.group}) by ${user} (${ReadState[state]}, page_size ${pageSize})`;
      const got: string[] = [];
      let pageToken = "";
      for (let n = 0; n < 100; n++) {
        const r = await attempt(() => api.messages.listReadReceipts({ groupId: m.group, messageId: m.id, state, pageSize, pageToken }));
        if (expectErr || !r.ok) {
          if (r.ok || r.reason !== expectErr) throw new ModelFailure("RCP-4/DRV-1", what, expectErr ?? "success", r.ok ? "success" : r.reason);
          return;
        }
        const have = `read=${r.value.counts?.readCount ?? "?"}/${r.value.counts?.unreadCount ?? "?"}`;
        if (have !== counts) throw new ModelFailure("RCP-4", `${what}: counts`, counts, have);
        if (r.value.receipts.length === 0 && r.value.nextPageToken) throw new ModelFailure("RCP-4/PAG-1", `${what}: an empty page with a next_page_token`, "", r.value.nextPageToken);
        got.push(...r.value.receipts.map((x) => `${x.userId} ${x.readTime ? toNs(x.readTime) : "unread"}`));
        pageToken = r.value.nextPageToken;
        if (!pageToken) break;
      }
      const want = [...(m.receipts ?? [])]
        .filter(([, t]) => (state === ReadState.READ) === (t !== undefined))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([u, t]) => `${u} ${t === undefined ? "unread" : at(t)}`);
      if (!same(want, got)) throw new ModelFailure("RCP-4", what, want, got);
    }
  }

  /**
   * Every live group's history for every user, and GetMessage of `messages` for every user (and
   * ListReactions of those that ever had a reaction).
   */
  async sweep(groups: readonly string[], messages: readonly MessageModel[]): Promise<void> {
    for (const g of groups) await this.history(g);
    const chunk = 16;
    for (let i = 0; i < messages.length; i += chunk) await Promise.all(messages.slice(i, i + chunk).map((m) => this.getMessage(m)));
    const reacted = messages.filter((m) => m.reacted);
    for (let i = 0; i < reacted.length; i += chunk) await Promise.all(reacted.slice(i, i + chunk).map((m) => this.reactions(m)));
    const receipted = messages.filter((m) => m.receipts);
    for (let i = 0; i < receipted.length; i += chunk) await Promise.all(receipted.slice(i, i + chunk).map((m) => this.readReceipts(m)));
  }
}

/**
 * The rule a history or GetMessage disagreement breaks: RCT-5 when only the reactions differ,
 * RPL-3 when only the quotes' resolution, RCP-4 when only the read receipt counts.
 */
function historyRule(want: readonly string[], got: readonly string[], otherwise = "VIS-1/VIS-3/TGT-4/MSG-12"): string {
  const only = (strip: (k: string) => string) => same(want.map(strip), got.map(strip));
  if (only((k) => k.replace(/ reactions=\[.*\]$/, ""))) return "RCT-5/DRV-1";
  if (only((k) => k.replace(/:AVAILABLE\{[^}]*\}|:UNAVAILABLE/g, ""))) return "RPL-3/DRV-1";
  if (only((k) => k.replace(/ read=\d+\/\d+/, ""))) return "RCP-4";
  return otherwise;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
