// Random operations among the users, chosen from the model's state so that most of them succeed
// and the rest are the rejections the spec names (non-member send, receiver not a member, recall by
// a stranger, edit by someone who may not see the message, a reaction on a recalled one, a reply
// widening its quote's audience, an acknowledgement naming a hidden message, ...).
// Every choice comes from the seeded PRNG.
import { EDIT_WINDOW_MS, EDIT_WINDOW_SECONDS, type Model, type GroupModel, type MessageModel } from "./model.js";
import { GROUP_TYPES, UNKNOWN_MESSAGE, type Actor, type Op, type PriorityName, type SendSpec } from "./ops.js";
import type { Prng } from "./prng.js";

/**
 * The usual reactions (RCT-2): few, so that repeated adds and removes — RCT-3's no-ops — are common.
 * `:+1:` and `👍` are two reactions; `❤️` is two code points (U+2764 U+FE0F).
 */
export const REACTIONS = ["👍", "❤️", ":+1:", "x"] as const;
/**
 * Now and then: "！" (U+FF01) comes before "👍" in code point order but after it in UTF-16 order
 * (RCT-5, RCT-6 ties); "é" precomposed and decomposed are two reactions (no normalisation);
 * 32 emoji are 32 code points (allowed) but 64 UTF-16 units.
 */
const RARE_REACTIONS = ["！", "é", "e\u0301", "👍".repeat(32)];
/** Not reactions (RCT-2): FIELD_INVALID, before every other check (section 9.5). */
const INVALID_REACTIONS = ["", " ", "a\u0007", "x".repeat(33)];

export interface StreamInfo {
  id: string;
  user: string;
}

export class Generator {
  private groupCounter = 0;
  private messageCounter = 0;
  private streamCounter = 0;
  private cmidCounter = 0;
  private editCounter = 0;

  constructor(
    private readonly rng: Prng,
    private readonly model: Model,
    private readonly streams: () => StreamInfo[],
  ) {}

  /** The first operations: one stream per user, so that every user's events are watched. */
  initial(): Op[] {
    return this.model.users.map((user) => this.open(user, "none"));
  }

  private open(user: string, from: "none" | "latest" | "older"): Op {
    return { kind: "openStream", user, stream: `s${++this.streamCounter}`, from, olderPick: this.rng.int(1000) };
  }

  private liveGroups(): GroupModel[] {
    return [...this.model.groups.values()].filter((g) => !g.dismissed && g.id !== "g0");
  }

  /** A user: usually one satisfying `prefer`, sometimes anyone (to provoke rejections). */
  private userWhere(prefer: (u: string) => boolean, wrongness = 0.08): string {
    const good = this.model.users.filter(prefer);
    if (good.length === 0 || this.rng.chance(wrongness)) return this.rng.pick(this.model.users);
    return this.rng.pick(good);
  }

  next(): Op {
    const rng = this.rng;
    const groups = this.liveGroups();
    const r = rng.next();
    if (groups.length < 2 || (r < 0.04 && groups.length < 10)) return this.createGroup();
    const g = rng.pick(groups);
    const members = [...g.members.keys()];
    const nonMembers = this.model.users.filter((u) => !g.members.has(u));
    const isMember = (u: string) => g.members.has(u);
    if (r < 0.1) {
      const by: Actor = rng.chance(0.2) ? { admin: true } : { user: this.userWhere(isMember) };
      const users = rng.chance(0.1) ? rng.subset(this.model.users, 0.3) : rng.subset(nonMembers, 0.5);
      if (users.length === 0) return this.send(g);
      return { kind: "invite", by, group: g.id, users };
    }
    if (r < 0.15) {
      // Applications to PUBLIC groups (GRP-3) get a share of their own; other joins are at once.
      const open = groups.filter((x) => x.type === "PUBLIC" && x.members.size < this.model.users.length);
      const target = open.length && rng.chance(0.4) ? rng.pick(open) : g;
      return { kind: "join", user: this.userWhere((u) => !target.members.has(u)), group: target.id, note: `hi${rng.int(100)}` };
    }
    if (r < 0.18) {
      // Prefer a group with a pending request, so approvals and rejections mostly find one.
      const pending = groups.filter((x) => x.joinRequests.size > 0);
      if (pending.length && rng.chance(0.8)) return this.decide(rng.pick(pending));
      return this.decide(g);
    }
    if (r < 0.23) return { kind: "leave", user: this.userWhere((u) => isMember(u) && g.owner !== u), group: g.id };
    if (r < 0.26) {
      const by: Actor = rng.chance(0.3) ? { admin: true } : { user: this.userWhere((u) => g.members.get(u)?.role === "OWNER" || g.members.get(u)?.role === "ADMIN") };
      const pool = rng.chance(0.9) ? members.filter((u) => g.owner !== u || "admin" in by) : this.model.users;
      const users = rng.subset(pool, 0.3);
      if (users.length === 0) return this.send(g);
      return { kind: "remove", by, group: g.id, users };
    }
    if (r < 0.29) {
      const admin = rng.chance(0.2);
      const by: Actor = admin ? { admin: true } : { user: this.userWhere((u) => g.owner === u) };
      const target = this.userWhere((u) => isMember(u) && u !== g.owner);
      const role = admin && rng.chance(0.3) ? "OWNER" : rng.chance(0.5) ? "ADMIN" : "MEMBER";
      return { kind: "setRole", by, group: g.id, target, role };
    }
    if (r < 0.297) return { kind: "dismiss", by: rng.chance(0.3) ? { admin: true } : { user: this.userWhere((u) => g.owner === u, 0.3) }, group: g.id };
    if (r < 0.52) return this.send(g);
    if (r < 0.6) return this.edit(g);
    if (r < 0.62) {
      const withKey = [...this.model.messages.values()].filter((m) => m.spec.clientMessageId);
      if (withKey.length === 0) return this.send(g);
      return { kind: "resend", of: rng.pick(withKey.slice(-30)).key };
    }
    if (r < 0.7) return this.recall(g);
    if (r < 0.76) {
      const user = this.userWhere(isMember, 0.03);
      const latest = g.latestSeq;
      const readSeq = rng.pick([0, latest, latest + 3, rng.int(latest + 1), Math.max(0, latest - 1)]);
      return { kind: "markRead", user, group: g.id, readSeq };
    }
    if (r < 0.8) return this.ack(g);
    if (r < 0.9) return this.streamOp();
    if (r < 0.905 && this.model.clockMs < 20 * 3600_000) return { kind: "advanceClock", seconds: rng.pick([30, 125]) };
    if (r < 0.909) return { kind: "deleteUser", user: rng.pick(this.model.users) };
    if (r < 0.99) return this.react(g);
    return this.send(g);
  }

  private decide(g: GroupModel): Op {
    const rng = this.rng;
    const applicants = [...g.joinRequests.keys()];
    const applicant = applicants.length && rng.chance(0.9) ? rng.pick(applicants) : rng.pick(this.model.users);
    const user = this.userWhere((u) => g.members.get(u)?.role === "OWNER" || g.members.get(u)?.role === "ADMIN");
    return { kind: rng.chance(0.7) ? "approve" : "reject", user, group: g.id, applicant };
  }

  private createGroup(): Op {
    const rng = this.rng;
    const type = rng.pick(GROUP_TYPES);
    const admin = rng.chance(0.3);
    const owner = admin && rng.chance(0.2) ? "" : rng.pick(this.model.users);
    const members = rng.subset(this.model.users.filter((u) => u !== owner), 0.5);
    return { kind: "createGroup", by: admin ? { admin: true } : { user: owner }, group: `g${++this.groupCounter}`, type, owner, members };
  }

  private streamOp(): Op {
    const rng = this.rng;
    const open = this.streams();
    const r = rng.next();
    if (r < 0.4 && open.length > 0) return { kind: "closeStream", stream: rng.pick(open).id };
    const candidates = this.model.users.filter((u) => open.filter((s) => s.user === u).length < 2);
    if (candidates.length === 0) return { kind: "closeStream", stream: rng.pick(open).id };
    const user = rng.pick(candidates);
    return this.open(user, rng.pick(["none", "latest", "latest", "older", "older"] as const));
  }

  private send(g: GroupModel): Op {
    const rng = this.rng;
    const members = [...g.members.keys()];
    const admin = rng.chance(0.1);
    let sender = admin && rng.chance(0.4) ? "" : this.userWhere((u) => g.members.has(u), 0.05);
    // A quote reply now and then (RPL-1, RPL-2): it may fix whether the reply is targeted, to whom,
    // and (a targeted quote's audience answering) who sends it.
    // (Rarely where nothing is stored, AVCHATROOM: there every reply is MESSAGE_NOT_FOUND.)
    const reply = rng.chance(g.stored.length ? 0.35 : 0.05) ? this.replyTarget(g, admin ? sender : undefined) : undefined;
    if (reply?.sender !== undefined) sender = reply.sender;
    const others = members.filter((u) => u !== sender);
    const targeted = reply?.receivers ? reply.receivers.length > 0 : rng.chance(0.35);
    let receivers: string[] = [];
    let mentions: string[] = [];
    let mentionAll = false;
    if (reply?.receivers) receivers = reply.receivers;
    else if (targeted) {
      receivers = rng.subset(others, 0.4);
      if (receivers.length === 0 && others.length) receivers = [rng.pick(others)];
      if (rng.chance(0.05)) receivers.push(rng.pick(this.model.users)); // maybe a non-member, a duplicate or the sender
    }
    if (!targeted || rng.chance(0.03)) {
      if (rng.chance(0.3)) mentions = rng.subset(members, 0.3);
      if (rng.chance(0.03)) mentions.push(rng.pick(this.model.users));
      mentionAll = rng.chance(0.15);
    }
    const spec: SendSpec = {
      text: `m${++this.messageCounter}`,
      receivers,
      mentions,
      mentionAll,
      onlineOnly: rng.chance(0.07),
      excludeFromUnread: rng.chance(0.15),
      excludeFromLastMessage: rng.chance(0.15),
      countAsUnreadForReceivers: receivers.length > 0 && rng.chance(0.4),
      priority: rng.pick(["UNSPECIFIED", "HIGH", "NORMAL", "LOW"] as PriorityName[]),
      clientMessageId: rng.chance(0.3) ? `c${++this.cmidCounter}` : "",
      replyTo: reply?.key ?? "",
      // RCP-1: mostly by a user sender; system senders, online-only and AVCHATROOM ones refused.
      readReceipts: rng.chance(sender ? 0.2 : 0.1),
    };
    if (spec.onlineOnly || g.type === "AVCHATROOM") spec.clientMessageId = "";
    return { kind: "send", by: admin ? { admin: true } : { user: sender }, sender, group: g.id, msg: `m${this.messageCounter}`, spec };
  }

  /**
   * The message a reply quotes (RPL-1): mostly one of the group the sender may see — a targeted
   * one favoured, answered within its audience, to its sender alone, or (widening, RPL-2) with an
   * outsider added or to the whole group; else one they may not see, a recalled one, another
   * group's, one not stored, or an unknown ID. `receivers` undefined: the send chooses its own.
   */
  private replyTarget(g: GroupModel, fixedSender: string | undefined): { key: string; receivers?: string[]; sender?: string } {
    const rng = this.rng;
    const model = this.model;
    // Mostly (a user sender): a targeted message of the group, answered by one of its audience.
    const targetedQ = g.stored.filter((m) => m.spec.receivers.length > 0 && !m.recalled);
    if (fixedSender === undefined && targetedQ.length && rng.chance(0.7)) {
      const q = rng.pick(targetedQ.slice(-10));
      const answering = [q.sender, ...q.spec.receivers].filter((u) => u && model.maySee(u, q));
      if (answering.length) {
        const who = rng.pick(answering);
        return { ...this.replyReceivers(g, q, who), sender: who };
      }
    }
    const sender = fixedSender ?? this.userWhere((u) => g.members.has(u), 0.05);
    return { ...this.replyQuote(g, sender), sender: fixedSender === undefined ? sender : undefined };
  }

  private replyQuote(g: GroupModel, sender: string): { key: string; receivers?: string[] } {
    const rng = this.rng;
    const model = this.model;
    const inGroup = [...model.messages.values()].filter((m) => m.group === g.id);
    const sees = (m: MessageModel) => m.seq > 0 && (sender ? model.maySee(sender, m) : true);
    const r = rng.next();
    let q: MessageModel | undefined;
    if (r < 0.05 || inGroup.length === 0) return { key: UNKNOWN_MESSAGE };
    const visible = inGroup.filter((m) => sees(m) && !m.recalled);
    if (r < 0.75) {
      const targeted = visible.filter((m) => m.spec.receivers.length > 0);
      const pool = targeted.length && rng.chance(0.6) ? targeted : visible.slice(-10);
      if (pool.length) q = rng.pick(pool);
    } else if (r < 0.83) {
      const hidden = inGroup.filter((m) => !sees(m));
      if (hidden.length) q = rng.pick(hidden.slice(-10));
    } else if (r < 0.9) {
      const recalled = inGroup.filter((m) => m.recalled && sees(m));
      if (recalled.length) q = rng.pick(recalled);
    } else if (r < 0.95) {
      const others = [...model.messages.values()].filter((m) => m.group !== g.id && m.seq > 0);
      if (others.length) q = rng.pick(others.slice(-20));
    }
    // No such case in this state: one the sender may see if any.
    q ??= visible.length ? rng.pick(visible.slice(-10)) : rng.pick(inGroup.slice(-10));
    if (q.spec.receivers.length === 0 || q.group !== g.id) return { key: q.key };
    return this.replyReceivers(g, q, sender);
  }

  private replyReceivers(g: GroupModel, q: MessageModel, sender: string): { key: string; receivers?: string[]; sender?: string } {
    const rng = this.rng;
    // A targeted quote: receivers from its audience A(Q) (members now, not the sender), sometimes widened.
    const audience = [q.sender, ...q.spec.receivers].filter((u) => u && u !== sender && g.members.has(u));
    const outsiders = [...g.members.keys()].filter((u) => u !== sender && !audience.includes(u));
    const w = rng.next();
    if (w < 0.2) return { key: q.key, receivers: [] };
    let receivers = q.sender && q.sender !== sender && g.members.has(q.sender) && rng.chance(0.3) ? [q.sender] : rng.subset(audience, 0.6);
    if (receivers.length === 0 && audience.length) receivers = [rng.pick(audience)];
    if ((w < 0.5 || receivers.length === 0) && outsiders.length) receivers = [...receivers, rng.pick(outsiders)];
    return { key: q.key, receivers: receivers.length ? receivers : undefined };
  }

  /**
   * SendReadReceipts (RCP-3) of 1 to 3 messages: mostly ones that asked for receipts with the
   * caller an unread reader (recorded, MessageRead to the sender), or that the caller read before
   * or sent (no change); now and then one they may not see, another group's, or an unknown ID
   * (MESSAGE_NOT_FOUND for the whole request, nothing recorded); by anyone now and then.
   */
  private ack(picked: GroupModel): Op {
    const rng = this.rng;
    const model = this.model;
    const asking = this.liveGroups().filter((x) => x.stored.some((m) => m.receipts && [...m.receipts.values()].includes(undefined)));
    const g = asking.length && rng.chance(0.7) ? rng.pick(asking) : picked;
    const user = this.userWhere((u) => g.members.has(u) && g.stored.some((m) => m.receipts?.has(u) && m.receipts.get(u) === undefined && model.maySee(u, m)), 0.05);
    const visible = g.stored.filter((m) => model.maySee(user, m));
    const unread = visible.filter((m) => m.receipts?.has(user) && m.receipts.get(user) === undefined);
    const msgs: string[] = [];
    for (let n = 1 + rng.int(3); msgs.length < n; ) {
      const r = rng.next();
      if (r < 0.55 && unread.length) msgs.push(rng.pick(unread).key);
      else if (r < 0.8 && visible.length) msgs.push(rng.pick(visible.slice(-15)).key);
      else if (r < 0.88) {
        const hidden = g.stored.filter((m) => !model.maySee(user, m));
        msgs.push(hidden.length ? rng.pick(hidden).key : UNKNOWN_MESSAGE);
      } else if (r < 0.94) {
        const others = [...model.messages.values()].filter((m) => m.group !== g.id);
        msgs.push(others.length ? rng.pick(others.slice(-20)).key : UNKNOWN_MESSAGE);
      } else msgs.push(UNKNOWN_MESSAGE);
    }
    return { kind: "ack", user, group: g.id, msgs };
  }

  private recall(g: GroupModel): Op {
    const rng = this.rng;
    const candidates = [...this.model.messages.values()].filter((m) => m.group === g.id);
    if (candidates.length === 0) return this.send(g);
    // Targeted messages whose audience has partly left are where VIS-2 matters: favour them.
    const partlyLeft = candidates.filter((x) => x.spec.receivers.length > 0 && !x.recalled && [x.sender, ...x.spec.receivers].some((u) => u && !g.members.has(u)));
    const m = partlyLeft.length && rng.chance(0.3) ? rng.pick(partlyLeft) : rng.chance(0.7) ? rng.pick(candidates.slice(-10)) : rng.pick(candidates);
    const r = rng.next();
    let by: Actor;
    if (r < 0.15) by = { admin: true };
    else if (r < 0.55 && m.sender) by = { user: m.sender };
    else if (r < 0.8) by = { user: this.userWhere((u) => g.members.get(u)?.role === "OWNER" || g.members.get(u)?.role === "ADMIN") };
    else by = { user: rng.pick(this.model.users) };
    return { kind: "recall", by, group: g.id, msg: m.key };
  }

  /**
   * An edit (EDT-1..6): mostly by the sender within the window (accepted); else by another member
   * who sees it (EDIT_NOT_ALLOWED), by a member who may not see it (MESSAGE_NOT_FOUND, DRV-1), of
   * a recalled message (ALREADY_RECALLED), past the window (EDIT_WINDOW_EXPIRED), by anyone (also
   * NOT_A_MEMBER), and now and then empty content (INVALID_ELEMENT, checked first).
   */
  private edit(picked: GroupModel): Op {
    const rng = this.rng;
    const model = this.model;
    // Mostly a group with stored messages: in AVCHATROOM (none stored) every edit is MESSAGE_NOT_FOUND (EDT-2).
    const storing = this.liveGroups().filter((x) => x.stored.length > 0);
    const g = picked.stored.length === 0 && storing.length && rng.chance(0.8) ? rng.pick(storing) : picked;
    const candidates = [...model.messages.values()].filter((m) => m.group === g.id);
    if (candidates.length === 0) return this.send(g);
    // Only the clock passes the edit window: now and then move it past the window, or a little.
    if (rng.chance(0.06) && model.clockMs < 20 * 3600_000) return { kind: "advanceClock", seconds: rng.pick([60, EDIT_WINDOW_SECONDS + 10]) };
    const members = [...g.members.keys()];
    const recent = candidates.slice(-10);
    const age = (m: MessageModel) => model.clockMs - m.sentAtMs;
    // Stored, not recalled, and its sender (the same incarnation, ADM-11) may still see it.
    const editable = (m: MessageModel) =>
      m.sender !== "" && !m.recalled && m.incarnations.get(m.sender) === model.incarnation(m.sender) && model.maySee(m.sender, m);
    const pairs = (pool: MessageModel[], who: (u: string, m: MessageModel) => boolean) => pool.flatMap((m) => members.filter((u) => who(u, m)).map((u) => [m, u] as const));
    const expired = () => candidates.filter((m) => editable(m) && age(m) > EDIT_WINDOW_MS + 5_000);
    let choice: readonly [MessageModel, string] | undefined;
    const r = rng.next();
    if (r < 0.5) {
      // By the sender within the window; targeted messages whose audience partly left (VIS-2)
      // favoured. None in this group: a recent one of another group; none at all (the clock just
      // passed the window): one past it.
      const fresh = (m: MessageModel) => editable(m) && age(m) < EDIT_WINDOW_MS - 5_000;
      let own = candidates.filter(fresh);
      if (own.length === 0) own = [...model.messages.values()].filter((m) => m.seq > 0 && !model.groups.get(m.group)!.dismissed && fresh(m)).slice(-10);
      const partlyLeft = own.filter((m) => m.spec.receivers.some((u) => !model.groups.get(m.group)!.members.has(u)));
      const pool = own.length === 0 ? expired() : partlyLeft.length && rng.chance(0.3) ? partlyLeft : rng.chance(0.8) ? own.slice(-10) : own;
      if (pool.length) {
        const m = rng.pick(pool);
        choice = [m, m.sender];
      }
    } else if (r < 0.64) {
      // Another member who sees it (system messages included): EDIT_NOT_ALLOWED.
      const p = pairs(recent, (u, m) => u !== m.sender && model.maySee(u, m));
      if (p.length) choice = rng.pick(p);
    } else if (r < 0.76) {
      // A member who may not see it — targeted to others, below their floor, online-only: MESSAGE_NOT_FOUND.
      const p = pairs(candidates.slice(-30), (u, m) => !model.maySee(u, m));
      if (p.length) choice = rng.pick(p);
    } else if (r < 0.84) {
      // A recalled message, by its sender: ALREADY_RECALLED.
      const p = pairs(candidates.filter((m) => m.recalled), (u, m) => u === m.sender && model.maySee(u, m));
      if (p.length) choice = rng.pick(p);
    } else if (r < 0.96) {
      // By the sender, past the window: EDIT_WINDOW_EXPIRED.
      const old = expired();
      if (old.length) {
        const m = rng.pick(old);
        choice = [m, m.sender];
      }
    }
    // Otherwise (or when the state has no such case): a recent message, by a member or anyone at all.
    const [m, by] = choice ?? [rng.pick(recent), this.userWhere((u) => g.members.has(u), 0.2)];
    ++this.editCounter;
    const text = rng.chance(0.03) ? "" : `e${this.editCounter}`;
    const data = rng.chance(0.4) ? `d${this.editCounter}` : "";
    return { kind: "edit", by: { user: by }, group: m.group, msg: m.key, text, data };
  }

  /**
   * AddReaction or RemoveReaction (RCT-1..8): mostly by a member who may see the message (a
   * change, or with the small alphabet often a no-op, RCT-3; targeted messages favoured, removals
   * mostly of the caller's own reactions); else by a member who may not see it, of a recalled
   * message, of another group's message, of an unknown ID (MESSAGE_NOT_FOUND, DRV-1;
   * ALREADY_RECALLED), by anyone (also NOT_A_MEMBER), and now and then no valid reaction
   * (FIELD_INVALID).
   */
  private react(picked: GroupModel): Op {
    const rng = this.rng;
    const model = this.model;
    const kind = rng.chance(0.6) ? ("addReaction" as const) : ("removeReaction" as const);
    // Mostly a group with stored messages (AVCHATROOM has none); often one whose messages have
    // reactions, so that removals find some and adds repeat.
    const storing = this.liveGroups().filter((x) => x.stored.length > 0);
    const reacting = storing.filter((x) => x.stored.some((m) => m.reactions.length > 0));
    const g =
      reacting.length && rng.chance(kind === "removeReaction" ? 0.7 : 0.4)
        ? rng.pick(reacting)
        : picked.stored.length === 0 && storing.length && rng.chance(0.8)
          ? rng.pick(storing)
          : picked;
    const candidates = [...model.messages.values()].filter((m) => m.group === g.id);
    const members = [...g.members.keys()];
    const pairs = (pool: MessageModel[], who: (u: string, m: MessageModel) => boolean) => pool.flatMap((m) => members.filter((u) => who(u, m)).map((u) => [m, u] as const));
    const has = (u: string, m: MessageModel) => m.reactions.some((x) => x.user === u);
    let choice: readonly [MessageModel | undefined, string] | undefined;
    const r = rng.next();
    if (candidates.length === 0 || r < 0.04) {
      // A well-formed ID that no message has.
      choice = [undefined, this.userWhere((u) => g.members.has(u), 0.1)];
    } else if (r < 0.62) {
      const live = candidates.filter((m) => m.seq > 0 && !m.recalled);
      // Mostly messages that have reactions, so that counts grow, repeats happen and removals find some.
      const reacted = live.filter((m) => m.reactions.length > 0);
      const targeted = live.filter((m) => m.spec.receivers.length > 0);
      const pool = reacted.length && rng.chance(kind === "removeReaction" ? 0.8 : 0.5) ? reacted : targeted.length && rng.chance(0.3) ? targeted : rng.chance(0.7) ? live.slice(-8) : live;
      let p = pairs(pool, (u, m) => model.maySee(u, m));
      const own = p.filter(([m, u]) => has(u, m));
      if (kind === "removeReaction" && own.length && rng.chance(0.85)) p = own;
      if (p.length) choice = rng.pick(p);
    } else if (r < 0.74) {
      // A member who may not see it — targeted to others, below their floor, not stored.
      const p = pairs(candidates.slice(-30), (u, m) => !model.maySee(u, m));
      if (p.length) choice = rng.pick(p);
    } else if (r < 0.82) {
      // A recalled message, by a member who could see it.
      const p = pairs(candidates.filter((m) => m.recalled), (u, m) => model.maySee(u, m));
      if (p.length) choice = rng.pick(p);
    } else if (r < 0.87) {
      // Another group's message, named under this group.
      const others = [...model.messages.values()].filter((m) => m.group !== g.id && m.seq > 0).slice(-20);
      if (others.length && members.length) choice = [rng.pick(others), rng.pick(members)];
    }
    const [m, by] = choice ?? [rng.pick(candidates.slice(-10)), this.userWhere((u) => g.members.has(u), 0.2)];
    const mine = m ? m.reactions.filter((x) => x.user === by).map((x) => x.reaction) : [];
    // Removals mostly of the caller's own (a change); adds now and then of one they have (a no-op).
    const reaction =
      mine.length && rng.chance(kind === "removeReaction" ? 0.85 : 0.25)
        ? rng.pick(mine)
        : rng.chance(0.03)
          ? rng.pick(INVALID_REACTIONS)
          : rng.chance(0.1)
            ? rng.pick(RARE_REACTIONS)
            : rng.pick(REACTIONS);
    return { kind, by: { user: by }, group: g.id, msg: m?.key ?? "", reaction };
  }
}
