// The reference model: what docs/spec.md (sections 7–14) says the server must hold and send,
// written from the spec alone (no server code). `plan(op)` says what an operation must return;
// `commit` applies a successful one, feeding back the values only the server chooses (message
// IDs, server times), and appends the events every user must receive to their expected logs.
// The one server import: code point order (RCT-5, RCT-6) is UTF-8 byte order, a definition, not a rule.
import { compareCodePoints } from "../../src/rules/reactions.js";
import { UNKNOWN_MESSAGE, type Actor, type GroupTypeName, type Op, type PriorityName, type ReactionOp, type RoleName, type SendSpec } from "./ops.js";

export const RECALL_WINDOW_MS = 120_000;
/**
 * The edit window the model servers run with (EDT-2; env.ts passes it as editWindowSeconds). Far
 * below the reference's 24 hours, so that the model's clock passes it without passing the
 * idempotency window (MSG-10), which the model treats as endless.
 */
export const EDIT_WINDOW_SECONDS = 300;
export const EDIT_WINDOW_MS = EDIT_WINDOW_SECONDS * 1000;

/** RCT-4: distinct reactions one message may have. */
export const MAX_DISTINCT_REACTIONS = 20;

/** RCT-2: whether `reaction` is 1 to 32 code points, no control character, not only white space. */
export function validReaction(reaction: string): boolean {
  const n = [...reaction].length;
  return n >= 1 && n <= 32 && !/\p{Cc}/u.test(reaction) && !/^\p{White_Space}+$/u.test(reaction);
}

/** One user's current reaction on a message (RCT-1), and when it was added (model clock). */
export interface ReactionUse {
  reaction: string;
  user: string;
  atMs: number;
}

export interface Membership {
  role: RoleName;
  /** History floor (VIS-1): the group's latest seq when this membership began. */
  floor: number;
  /** Read position (UNR-3, UNR-5, UNR-6). */
  readSeq: number;
}

export interface MessageModel {
  key: string;
  group: string;
  /** 0 for messages that are not stored (online-only, AVCHATROOM). */
  seq: number;
  sender: string;
  by: Actor;
  spec: SendSpec;
  id: string;
  /** server_time in ns, from the send response. */
  time: bigint;
  sentAtMs: number;
  recalled: boolean;
  recalledBy: string;
  /** The current content (EDT-3): the sent text until an edit replaces it, and custom data ("" = none). */
  text: string;
  customData: string;
  /** EditInfo (EDT-3): 0 = never edited; edit_time in ns, from the last EditMessage response. */
  editCount: number;
  editTime: bigint;
  /** Incarnation of each user at send time: a re-imported user is in no earlier audience (ADM-11). */
  incarnations: Map<string, number>;
  /** Current reactions, in the order they were added (RCT-1); a recall clears them (RCT-8). */
  reactions: ReactionUse[];
  /** Whether the message ever had a reaction (its ListReactions is then worth checking). */
  reacted: boolean;
  /** The message it quotes (RPL-1); its `reply_to` never changes (RPL-4). */
  replyTo: MessageModel | undefined;
  /**
   * Read receipts (RCP-1, RCP-2): absent unless requested; else every reader, fixed at send, with
   * when they acknowledged it (model clock), undefined while unread. DeleteUser removes a reader.
   */
  receipts: Map<string, number | undefined> | undefined;
}

export interface GroupModel {
  id: string;
  type: GroupTypeName;
  owner: string;
  members: Map<string, Membership>;
  latestSeq: number;
  /** Stored messages by seq - 1. */
  stored: MessageModel[];
  dismissed: boolean;
  createTime: bigint;
  joinRequests: Map<string, string>;
}

/**
 * One event a user must receive. `key` is the event as live delivery sends it; a replay renders
 * events of a message as they must look then (`Model.replayKey`: recall, edits).
 */
export interface ExpectedEvent {
  group: string;
  /** Stored events carry a cursor and replay (EVT-3); online-only / AVCHATROOM ones do not (EVT-7). */
  stored: boolean;
  key: string;
  /** A second accepted rendering, used only when a known disagreement is tolerated. */
  altKey?: string;
  /** The message a MessageReceived (or, with `edited`, a MessageEdited) carries. */
  message?: MessageModel;
  /** A MessageEdited of `message` (EDT-4), `key` being the version it announced. */
  edited?: boolean;
  /** A ConversationUpdated: the view it carried (its last message replays as it is now, EDT-4). */
  conversation?: ConversationView;
}

export type Outcome =
  | { ok: true; skip?: false }
  /** `field` and `ids`: the ErrorInfo metadata the first reason must carry, where the model checks it. */
  | { ok: false; reasons: string[]; skip?: false; field?: string; ids?: string[] }
  /** The op does not apply to the current state (e.g. a shrunk list names a missing message): skip it. */
  | { skip: true; ok?: undefined };

/** The spec's viewpoint of one conversation (CNV-1, CNV-2, UNR-1..8). */
export interface ConversationView {
  group: string;
  type: GroupTypeName;
  unread: number;
  readSeq: number;
  mentionedMe: boolean;
  mentionedAll: boolean;
  last: string;
  /** The message `last` renders (its state then). */
  lastMessage?: MessageModel;
  activity: bigint;
}

export interface ModelOptions {
  /** Known server disagreement: targeted messages from an earlier membership never become the last message (MEETING re-join). */
  tolerateMeetingRejoinLast?: boolean;
}

export class Model {
  readonly groups = new Map<string, GroupModel>();
  readonly messages = new Map<string, MessageModel>();
  /** Server message ID → model message. */
  readonly byId = new Map<string, MessageModel>();
  /** Every user's expected event log (appended in the order events happen). */
  readonly logs = new Map<string, ExpectedEvent[]>();
  /** Idempotency records: `${sender}|${group}|${clientMessageId}` → message key (MSG-10). */
  readonly idem = new Map<string, string>();
  /** Model clock in ms since the run's start (the server's clock is driven by it). */
  clockMs = 0;
  /** Listeners told of every appended event (the driver routes them to open streams). */
  onEvent: (user: string, index: number, event: ExpectedEvent) => void = () => {};

  constructor(readonly users: readonly string[]) {
    for (const u of users) this.logs.set(u, []);
  }

  // ---- visibility (VIS-1) -------------------------------------------------------------------

  inAudience(user: string, m: MessageModel): boolean {
    if (m.spec.receivers.length === 0) return true;
    if (!m.spec.receivers.includes(user) && m.sender !== user) return false;
    return m.incarnations.get(user) === this.incarnation(user);
  }

  /** How many times the user was deleted and imported again (ADM-11). */
  readonly incarnations = new Map<string, number>();

  incarnation(user: string): number {
    return this.incarnations.get(user) ?? 0;
  }

  /** VIS-1: the user may see stored message m now. */
  maySee(user: string, m: MessageModel): boolean {
    const g = this.groups.get(m.group)!;
    if (g.dismissed || m.seq === 0) return false;
    const ms = g.members.get(user);
    if (!ms) return false;
    if (!this.inAudience(user, m)) return false;
    return g.type === "MEETING" || m.seq > ms.floor;
  }

  visibleMessages(user: string, group: string): MessageModel[] {
    const g = this.groups.get(group)!;
    return g.stored.filter((m) => this.maySee(user, m));
  }

  /** The conversation as the spec computes it for `user` (CNV-2, UNR-1..8). */
  conversation(user: string, group: string, variant: "spec" | "meetingRejoinLast" = "spec"): ConversationView {
    const g = this.groups.get(group)!;
    const ms = g.members.get(user)!;
    const visible = this.visibleMessages(user, group);
    const above = visible.filter((m) => m.seq > ms.readSeq && m.sender !== user);
    const counted = above.filter(
      (m) => !m.spec.excludeFromUnread && (m.spec.receivers.length === 0 || (m.spec.countAsUnreadForReceivers && m.spec.receivers.includes(user))),
    );
    const unreadCounted = g.type === "MEETING" || g.type === "AVCHATROOM" ? 0 : counted.length;
    let lastCandidates = visible.filter((m) => !m.spec.excludeFromLastMessage);
    if (variant === "meetingRejoinLast" && g.type === "MEETING") {
      lastCandidates = lastCandidates.filter((m) => m.spec.receivers.length === 0 || m.seq > ms.floor);
    }
    const last = lastCandidates[lastCandidates.length - 1];
    return {
      group,
      type: g.type,
      unread: unreadCounted,
      readSeq: ms.readSeq,
      mentionedMe: above.some((m) => m.spec.mentions.includes(user)),
      mentionedAll: above.some((m) => m.spec.mentionAll),
      last: last ? Model.lastKey(last) : "",
      lastMessage: last,
      activity: last ? last.time : g.createTime,
    };
  }

  /** ListConversations of `user` in CNV-1 order. */
  conversations(user: string, variant: "spec" | "meetingRejoinLast" = "spec"): ConversationView[] {
    const list = [...this.groups.values()]
      .filter((g) => !g.dismissed && g.members.has(user))
      .map((g) => this.conversation(user, g.id, variant));
    return list.sort((a, b) => (a.activity === b.activity ? (a.group < b.group ? -1 : a.group > b.group ? 1 : 0) : a.activity > b.activity ? -1 : 1));
  }

  // ---- events -----------------------------------------------------------------------------

  private emit(users: Iterable<string>, event: ExpectedEvent): void {
    for (const u of users) {
      const log = this.logs.get(u)!;
      log.push(event);
      this.onEvent(u, log.length - 1, event);
    }
  }

  private emitJoined(g: GroupModel, user: string, role: RoleName, addedBy: string): void {
    this.emit(g.members.keys(), { group: g.id, stored: true, key: `MemberJoined ${g.id} ${user} ${role} by=${addedBy}` });
  }

  private emitLeft(g: GroupModel, user: string, removedBy: string, audience: string[]): void {
    this.emit(audience, { group: g.id, stored: true, key: `MemberLeft ${g.id} ${user} by=${removedBy}` });
  }

  /**
   * How a MessageReceived of m renders with m's current content (live: as sent, since it is
   * rendered when sent; replay, history, GetMessage: as it is now, MSG-11, EDT-3).
   */
  static receivedKey(m: MessageModel, recalled: boolean): string {
    return `MessageReceived ${Model.messageKey(m, recalled)}`;
  }

  /** How a MessageEdited of m renders, with m's current content (EDT-4). */
  static editedKey(m: MessageModel, recalled: boolean): string {
    return `MessageEdited ${Model.messageKey(m, recalled)}`;
  }

  /**
   * How an event of the log must look when replayed now (EVT-3): every event with a message in
   * it — MessageReceived, MessageEdited, a ConversationUpdated's last message — shows the message
   * as it is now, recalled or edited since (MSG-11, EDT-4, DRV-1).
   */
  static replayKey(e: ExpectedEvent): string {
    if (e.conversation) {
      const last = e.conversation.lastMessage;
      return Model.conversationKey({ ...e.conversation, last: last ? Model.lastKey(last) : "" });
    }
    const m = e.message;
    if (!m) return e.key;
    return e.edited ? Model.editedKey(m, m.recalled) : Model.receivedKey(m, m.recalled);
  }

  /**
   * A message as GetMessage, ListMessages and the reaction RPCs show it to `viewer` (RCT-5): the
   * MessageReceived rendering plus its reactions.
   */
  viewKey(m: MessageModel, viewer: string): string {
    return `MessageReceived ${Model.messageKey(m, m.recalled, viewer, this)}` + Model.reactionsPart(Model.reactionCounts(m, viewer));
  }

  /**
   * RCP-4: a message's counts, shown to its sender. The sender is whoever has the sender's user
   * ID: the server today treats a user re-imported under a deleted sender's ID (ADM-11) as the
   * sender (their MEETING membership lets them see the sender's old messages); the spec does not
   * say otherwise, so the model follows it.
   */
  static receiptCounts(m: MessageModel): { read: number; unread: number } {
    const all = [...(m.receipts?.values() ?? [])];
    const read = all.filter((t) => t !== undefined).length;
    return { read, unread: all.length - read };
  }

  static messageReadKey(m: MessageModel, reader: string): string {
    const c = Model.receiptCounts(m);
    return `MessageRead ${m.group} id=${m.id} seq=${m.seq} reader=${reader} read=${c.read} unread=${c.unread}`;
  }

  /**
   * RCT-5: one entry per distinct reaction, ordered by its oldest current use (then code point
   * order), with the count and whether `viewer` is among its users.
   */
  static reactionCounts(m: MessageModel, viewer: string): { reaction: string; count: number; mine: boolean; first: number }[] {
    const by = new Map<string, { reaction: string; count: number; mine: boolean; first: number }>();
    for (const u of m.reactions) {
      let e = by.get(u.reaction);
      if (!e) by.set(u.reaction, (e = { reaction: u.reaction, count: 0, mine: false, first: u.atMs }));
      e.count++;
      e.first = Math.min(e.first, u.atMs);
      if (u.user === viewer) e.mine = true;
    }
    return [...by.values()].sort((a, b) => a.first - b.first || compareCodePoints(a.reaction, b.reaction));
  }

  /** `reactions` rendered (stream.ts renders the wire's the same way); nothing when there are none. */
  static reactionsPart(counts: readonly { reaction: string; count: number; mine: boolean }[]): string {
    return counts.length ? ` reactions=[${counts.map((c) => `${JSON.stringify(c.reaction)}x${c.count}${c.mine ? "*" : ""}`).join(",")}]` : "";
  }

  /** RCT-6: ListReactions of m, oldest first, then reaction (code point order), then user ID. */
  static reactionList(m: MessageModel): ReactionUse[] {
    return [...m.reactions].sort((a, b) => a.atMs - b.atMs || compareCodePoints(a.reaction, b.reaction) || compareCodePoints(a.user, b.user));
  }

  static reactionChangedKey(m: MessageModel, reaction: string, user: string, added: boolean, count: number): string {
    return `ReactionChanged ${m.group} id=${m.id} seq=${m.seq} reaction=${JSON.stringify(reaction)} user=${user} added=${added} count=${count}`;
  }

  /** A message as a conversation's last message (CNV-2): recalled, or with its text; and its edits (EDT-3). */
  static lastKey(m: MessageModel): string {
    return `${m.id}${m.recalled ? "(recalled)" : `:${m.text}`}${m.editCount ? `(edit ${m.editCount})` : ""}`;
  }

  /**
   * `viewer` set: the rendering of GetMessage, ListMessages and the reaction RPCs (RCT-5) for that
   * user — the quote resolved as they may see it (RPL-3) and, for the sender, the read receipt
   * counts (RCP-4). Unset: every other path, where `reply_to` is the ID only.
   */
  private static messageKey(m: MessageModel, recalled: boolean, viewer?: string, model?: Model): string {
    const s = m.spec;
    const parts = [
      `${m.group} seq=${m.seq} id=${m.id} from=${m.sender}`,
      `text=${recalled ? "" : m.text}`,
      !recalled && m.customData ? `data=${m.customData}` : "",
      s.receivers.length ? `to=[${s.receivers.join(",")}]` : "",
      s.mentions.length ? `mentions=[${[...new Set(s.mentions)].join(",")}]` : "", // MSG-6: duplicates collapse
      s.mentionAll ? "@all" : "",
      s.onlineOnly ? "online_only" : "",
      s.excludeFromUnread ? "no_unread" : "",
      s.excludeFromLastMessage ? "no_last" : "",
      s.countAsUnreadForReceivers ? "count_for_receivers" : "",
      `prio=${s.priority}`,
      m.editCount ? `edit=${m.editCount}@${m.editTime}` : "", // recall keeps it (message.proto)
      recalled ? `recalled_by=${m.recalledBy}` : "",
      m.replyTo ? `reply=${m.replyTo.id}${viewer !== undefined && model ? model.quotePart(m.replyTo, viewer) : ""}` : "",
      m.receipts ? "receipts" : "",
      viewer !== undefined && m.receipts && viewer === m.sender ? `read=${Model.receiptCounts(m).read}/${Model.receiptCounts(m).unread}` : "",
    ];
    return parts.filter(Boolean).join(" ");
  }

  /**
   * RPL-3: the quoted message q as `viewer` may see it now (edited, recalled), with its own
   * reply_to reduced to the ID and no reactions or read receipts; or unavailable.
   */
  private quotePart(q: MessageModel, viewer: string): string {
    return this.maySee(viewer, q) ? `:AVAILABLE{${Model.messageKey(q, q.recalled)}}` : ":UNAVAILABLE";
  }

  static conversationKey(c: ConversationView): string {
    return `ConversationUpdated ${c.group} ${c.type} unread=${c.unread} read=${c.readSeq} me=${c.mentionedMe} all=${c.mentionedAll} last=${c.last}`;
  }

  // ---- operations ---------------------------------------------------------------------------

  private role(g: GroupModel, user: string): RoleName | undefined {
    return g.members.get(user)?.role;
  }

  private join(g: GroupModel, user: string, role: RoleName, addedBy: string): void {
    g.members.set(user, { role, floor: g.latestSeq, readSeq: g.latestSeq });
    g.joinRequests.delete(user);
    if (role === "OWNER") g.owner = user;
    this.emitJoined(g, user, role, addedBy);
  }

  private leave(g: GroupModel, user: string, removedBy: string): void {
    const audience = [...g.members.keys()];
    g.members.delete(user);
    if (g.owner === user) g.owner = "";
    this.emitLeft(g, user, removedBy, audience);
  }

  /** The group for a group-scoped user RPC, or the error AUTH-5 requires. */
  private scoped(group: string, user: string): GroupModel | Outcome {
    const g = this.groups.get(group);
    if (!g || g.dismissed) return { ok: false, reasons: ["GROUP_NOT_FOUND"] };
    if (!g.members.has(user)) return { ok: false, reasons: ["NOT_A_MEMBER"] };
    return g;
  }

  private adminScoped(group: string): GroupModel | Outcome {
    const g = this.groups.get(group);
    if (!g || g.dismissed) return { ok: false, reasons: ["GROUP_NOT_FOUND"] };
    return g;
  }

  /** What the server must answer to `op` in the current state. */
  plan(op: Op): Outcome {
    switch (op.kind) {
      case "createGroup": {
        if (this.groups.has(op.group)) return { ok: false, reasons: ["GROUP_ALREADY_EXISTS"] };
        return { ok: true };
      }
      case "invite": {
        const g = "user" in op.by ? this.scoped(op.group, op.by.user) : this.adminScoped(op.group);
        if (!isGroup(g)) return g;
        const already = op.users.some((u) => g.members.has(u));
        // No order is fixed between the role check and ALREADY_MEMBER (section 5.1): accept either.
        if ("user" in op.by && g.type === "PUBLIC" && this.role(g, op.by.user) === "MEMBER") return { ok: false, reasons: already ? ["ROLE_REQUIRED", "ALREADY_MEMBER"] : ["ROLE_REQUIRED"] };
        if (already) return { ok: false, reasons: ["ALREADY_MEMBER"] };
        return { ok: true };
      }
      case "join": {
        const g = this.groups.get(op.group);
        if (!g || g.dismissed) return { ok: false, reasons: ["GROUP_NOT_FOUND"] };
        if (g.members.has(op.user)) return { ok: false, reasons: g.type === "WORK" ? ["ALREADY_MEMBER", "JOIN_NOT_ALLOWED"] : ["ALREADY_MEMBER"] };
        if (g.type === "WORK") return { ok: false, reasons: ["JOIN_NOT_ALLOWED"] };
        return { ok: true };
      }
      case "approve":
      case "reject": {
        const g = this.scoped(op.group, op.user);
        if (!isGroup(g)) return g;
        const noRequest = !g.joinRequests.has(op.applicant);
        if (this.role(g, op.user) === "MEMBER") return { ok: false, reasons: noRequest ? ["ROLE_REQUIRED", "JOIN_REQUEST_NOT_FOUND"] : ["ROLE_REQUIRED"] };
        if (noRequest) return { ok: false, reasons: ["JOIN_REQUEST_NOT_FOUND"] };
        return { ok: true };
      }
      case "leave": {
        const g = this.scoped(op.group, op.user);
        if (!isGroup(g)) return g;
        if (g.owner === op.user) return { ok: false, reasons: ["OWNER_CANNOT_LEAVE"] };
        return { ok: true };
      }
      case "remove": {
        if ("user" in op.by) {
          const caller = op.by.user;
          const g = this.scoped(op.group, caller);
          if (!isGroup(g)) return g;
          const role = this.role(g, caller);
          const missing = op.users.some((u) => !g.members.has(u));
          if (role === "MEMBER") return { ok: false, reasons: missing ? ["ROLE_REQUIRED", "NOT_A_MEMBER"] : ["ROLE_REQUIRED"] };
          const self = op.users.includes(caller) && role === "OWNER";
          const protectedTarget = role === "ADMIN" && op.users.some((u) => g.members.has(u) && this.role(g, u) !== "MEMBER" && u !== caller);
          if (missing) return { ok: false, reasons: ["NOT_A_MEMBER", ...(self ? ["OWNER_CANNOT_LEAVE"] : []), ...(protectedTarget ? ["ROLE_REQUIRED"] : [])] };
          if (self) return { ok: false, reasons: ["OWNER_CANNOT_LEAVE"] };
          if (protectedTarget) return { ok: false, reasons: ["ROLE_REQUIRED"] };
          if (role === "ADMIN" && op.users.includes(caller)) return { skip: true };
          return { ok: true };
        }
        const g = this.adminScoped(op.group);
        if (!isGroup(g)) return g;
        if (op.users.some((u) => !g.members.has(u))) return { ok: false, reasons: ["NOT_A_MEMBER"] };
        return { ok: true };
      }
      case "setRole": {
        if ("user" in op.by) {
          const g = this.scoped(op.group, op.by.user);
          if (!isGroup(g)) return g;
          if (g.owner !== op.by.user) return { ok: false, reasons: g.members.has(op.target) ? ["ROLE_REQUIRED"] : ["ROLE_REQUIRED", "NOT_A_MEMBER"] };
          if (!g.members.has(op.target)) return { ok: false, reasons: ["NOT_A_MEMBER"] };
          if (op.target === op.by.user || op.role === "OWNER") return { ok: false, reasons: ["FIELD_INVALID"] };
          return { ok: true };
        }
        const g = this.adminScoped(op.group);
        if (!isGroup(g)) return g;
        if (!g.members.has(op.target)) return { ok: false, reasons: ["NOT_A_MEMBER"] };
        if (g.owner === op.target) return { skip: true }; // demoting the owner: not what this model tests
        return { ok: true };
      }
      case "dismiss": {
        if ("user" in op.by) {
          const g = this.scoped(op.group, op.by.user);
          if (!isGroup(g)) return g;
          if (g.owner !== op.by.user) return { ok: false, reasons: ["ROLE_REQUIRED"] };
          return { ok: true };
        }
        const g = this.adminScoped(op.group);
        return isGroup(g) ? { ok: true } : g;
      }
      case "send":
        return this.planSend(op.by, op.sender, op.group, op.spec);
      case "resend": {
        const m = this.messages.get(op.of);
        if (!m) return { skip: true };
        return this.planSend(m.by, m.sender, m.group, m.spec);
      }
      case "recall": {
        const m = this.messages.get(op.msg);
        if (!m) return { skip: true };
        if ("user" in op.by) {
          const caller = op.by.user;
          const g = this.scoped(op.group, caller);
          if (!isGroup(g)) return g;
          if (m.group !== op.group || !this.maySee(caller, m)) return { ok: false, reasons: ["MESSAGE_NOT_FOUND"] };
          const role = this.role(g, caller);
          const privileged = role === "OWNER" || role === "ADMIN";
          const age = this.clockMs - m.sentAtMs;
          if (!privileged && m.sender === caller && Math.abs(age - RECALL_WINDOW_MS) < 2_000) return { skip: true };
          const permitted = privileged || (m.sender === caller && age < RECALL_WINDOW_MS);
          const refusal = privileged ? undefined : m.sender === caller ? (permitted ? undefined : "RECALL_WINDOW_EXPIRED") : "RECALL_NOT_ALLOWED";
          if (m.recalled) return { ok: false, reasons: refusal ? ["ALREADY_RECALLED", refusal] : ["ALREADY_RECALLED"] };
          if (refusal) return { ok: false, reasons: [refusal] };
          return { ok: true };
        }
        const g = this.adminScoped(op.group);
        if (!isGroup(g)) return g;
        if (m.group !== op.group || m.seq === 0) return { ok: false, reasons: ["MESSAGE_NOT_FOUND"] };
        if (m.recalled) return { ok: false, reasons: ["ALREADY_RECALLED"] };
        return { ok: true };
      }
      case "edit":
        return this.planEdit(op);
      case "addReaction":
      case "removeReaction":
        return this.planReaction(op);
      case "ack":
        return this.planAck(op);
      case "markRead": {
        const g = this.scoped(op.group, op.user);
        if (!isGroup(g)) return g;
        if (op.readSeq < 0) return { ok: false, reasons: ["FIELD_INVALID"] };
        return { ok: true };
      }
      case "deleteUser":
      case "openStream":
      case "closeStream":
      case "advanceClock":
        return { ok: true };
    }
  }

  /** SendMessage's order of checks (section 9.1), for the checks this model exercises. */
  private planSend(by: Actor, sender: string, group: string, s: SendSpec): Outcome {
    const targeted = s.receivers.length > 0;
    if (targeted && (s.mentions.length > 0 || s.mentionAll)) return { ok: false, reasons: ["TARGETED_WITH_MENTION"] };
    if (new Set(s.receivers).size !== s.receivers.length) return { ok: false, reasons: ["DUPLICATE_RECEIVER"] };
    if (sender && s.receivers.includes(sender)) return { ok: false, reasons: ["SENDER_IN_RECEIVER_LIST"] };
    const g = this.groups.get(group);
    if (!g || g.dismissed) return { ok: false, reasons: ["GROUP_NOT_FOUND"] };
    if (sender && !g.members.has(sender)) return { ok: false, reasons: ["NOT_A_MEMBER"] };
    if (s.clientMessageId && this.idem.has(`${sender}|${group}|${s.clientMessageId}`)) return { ok: true };
    if (targeted && (g.type === "COMMUNITY" || g.type === "AVCHATROOM")) return { ok: false, reasons: ["GROUP_TYPE_UNSUPPORTED"] };
    if (s.receivers.some((r) => !g.members.has(r))) return { ok: false, reasons: ["RECEIVER_NOT_MEMBER"] };
    if (s.mentions.some((r) => !g.members.has(r))) return { ok: false, reasons: ["MENTIONED_USER_NOT_MEMBER"] };
    if (s.replyTo) {
      const q = s.replyTo === UNKNOWN_MESSAGE ? undefined : this.messages.get(s.replyTo);
      if (s.replyTo !== UNKNOWN_MESSAGE && !q) return { skip: true };
      // RPL-1: a stored message of the group the sender may see (the system sender: any stored one).
      if (!q || q.group !== group || q.seq === 0 || (sender && !this.maySee(sender, q))) return { ok: false, reasons: ["MESSAGE_NOT_FOUND"], field: "reply_to_message_id" };
      if (q.recalled) return { ok: false, reasons: ["ALREADY_RECALLED"], field: "reply_to_message_id" };
      if (q.spec.receivers.length > 0) {
        // RPL-2: A(Q) is Q's receivers and sender.
        if (!targeted) return { ok: false, reasons: ["REPLY_WIDENS_AUDIENCE"], field: "reply_to_message_id" };
        const audience = [q.sender, ...q.spec.receivers];
        const outsiders = s.receivers.filter((r) => !audience.includes(r));
        if (outsiders.length) return { ok: false, reasons: ["REPLY_WIDENS_AUDIENCE"], field: "receiver_ids", ids: outsiders };
        // A receiver re-imported under the ID of one of A(Q) (ADM-11): whether they are in A(Q)
        // the spec does not say (the server compares IDs). Not generated on purpose; skipped.
        if (s.receivers.some((r) => q.incarnations.get(r) !== this.incarnation(r))) return { skip: true };
      }
    }
    // RCP-1 (a group of more than 200 members cannot happen among the model's six users).
    if (s.readReceipts && (s.onlineOnly || g.type === "AVCHATROOM" || !sender)) return { ok: false, reasons: ["READ_RECEIPTS_NOT_ALLOWED"], field: "request_read_receipts" };
    return { ok: true };
  }

  /** SendReadReceipts (RCP-3): every ID must name a message the caller may see, else all fail. */
  private planAck(op: Extract<Op, { kind: "ack" }>): Outcome {
    const g = this.scoped(op.group, op.user);
    if (!isGroup(g)) return g;
    const hidden = new Set<string>();
    for (const key of op.msgs) {
      const m = key === UNKNOWN_MESSAGE ? undefined : this.messages.get(key);
      if (key !== UNKNOWN_MESSAGE && !m) return { skip: true };
      if (!m || m.group !== op.group || !this.maySee(op.user, m)) hidden.add(m?.id ?? UNKNOWN_MESSAGE_ID);
    }
    if (hidden.size) return { ok: false, reasons: ["MESSAGE_NOT_FOUND"], field: "message_ids", ids: [...hidden] };
    return { ok: true };
  }

  /** EditMessage's order of checks (EDT-6), for the checks this model exercises. */
  private planEdit(op: Extract<Op, { kind: "edit" }>): Outcome {
    const m = this.messages.get(op.msg);
    if (!m) return { skip: true };
    if (!op.text) return { ok: false, reasons: ["INVALID_ELEMENT"] }; // EDT-3: a text element needs text (MSG-3)
    const caller = op.by.user;
    const g = this.scoped(op.group, caller);
    if (!isGroup(g)) return g;
    // DRV-1: a message the caller may not see (targeted to others, below the floor, not stored)
    // is exactly a message that does not exist.
    if (m.group !== op.group || !this.maySee(caller, m)) return { ok: false, reasons: ["MESSAGE_NOT_FOUND"] };
    if (m.sender !== caller) return { ok: false, reasons: ["EDIT_NOT_ALLOWED"] }; // system messages included (EDT-1)
    // A re-imported user with the sender's ID (ADM-11) who may see the message (MEETING, no
    // floor): whether they are "its sender" the spec does not say. Not what this model tests.
    if (m.incarnations.get(caller) !== this.incarnation(caller)) return { skip: true };
    if (m.recalled) return { ok: false, reasons: ["ALREADY_RECALLED"] };
    const age = this.clockMs - m.sentAtMs;
    if (Math.abs(age - EDIT_WINDOW_MS) < 2_000) return { skip: true }; // at the boundary: either answer
    if (age > EDIT_WINDOW_MS) return { ok: false, reasons: ["EDIT_WINDOW_EXPIRED"] };
    return { ok: true };
  }

  /**
   * AddReaction / RemoveReaction in section 9.5's order (rate limiting aside: the model's servers
   * never refuse a token). Success either changes the reactions or, adding one the caller has or
   * removing one they have not, changes nothing (RCT-3); `commitReaction` tells which.
   */
  private planReaction(op: ReactionOp): Outcome {
    const m = op.msg ? this.messages.get(op.msg) : undefined;
    if (op.msg && !m) return { skip: true };
    if (!validReaction(op.reaction)) return { ok: false, reasons: ["FIELD_INVALID"] };
    const caller = op.by.user;
    const g = this.scoped(op.group, caller);
    if (!isGroup(g)) return g;
    // DRV-1: unknown, another group's, not stored, or not visible to the caller: all the same.
    if (!m || m.group !== op.group || !this.maySee(caller, m)) return { ok: false, reasons: ["MESSAGE_NOT_FOUND"] };
    if (m.recalled) return { ok: false, reasons: ["ALREADY_RECALLED"] };
    if (op.kind === "addReaction") {
      const distinct = new Set(m.reactions.map((u) => u.reaction));
      if (!distinct.has(op.reaction) && distinct.size >= MAX_DISTINCT_REACTIONS) return { ok: false, reasons: ["REACTION_LIMIT_REACHED"] };
    }
    return { ok: true };
  }

  /** The original message an idempotent send must return, if this send is a replay (MSG-10). */
  replayOf(sender: string, group: string, s: SendSpec): MessageModel | undefined {
    if (!s.clientMessageId) return undefined;
    const key = this.idem.get(`${sender}|${group}|${s.clientMessageId}`);
    return key ? this.messages.get(key) : undefined;
  }

  // ---- commits (after the server accepted the op) -------------------------------------------

  commitCreate(op: Extract<Op, { kind: "createGroup" }>, createTime: bigint): void {
    const g: GroupModel = {
      id: op.group,
      type: op.type,
      owner: "",
      members: new Map(),
      latestSeq: 0,
      stored: [],
      dismissed: false,
      createTime,
      joinRequests: new Map(),
    };
    this.groups.set(op.group, g);
    if (op.owner) this.join(g, op.owner, "OWNER", "");
    for (const u of op.members) if (u !== op.owner && !g.members.has(u)) this.join(g, u, "MEMBER", "");
  }

  commitInvite(op: Extract<Op, { kind: "invite" }>): void {
    const g = this.groups.get(op.group)!;
    for (const u of op.users) this.join(g, u, "MEMBER", "user" in op.by ? op.by.user : "");
  }

  /** JoinGroup: a member at once (GRP-4), or a pending request in a PUBLIC group (GRP-3). */
  commitJoin(op: Extract<Op, { kind: "join" }>): void {
    const g = this.groups.get(op.group)!;
    if (g.type === "PUBLIC") g.joinRequests.set(op.user, op.note);
    else this.join(g, op.user, "MEMBER", "");
  }

  commitDecide(op: Extract<Op, { kind: "approve" | "reject" }>): void {
    const g = this.groups.get(op.group)!;
    if (op.kind === "approve") this.join(g, op.applicant, "MEMBER", op.user);
    else g.joinRequests.delete(op.applicant);
  }

  commitLeave(op: Extract<Op, { kind: "leave" }>): void {
    this.leave(this.groups.get(op.group)!, op.user, "");
  }

  commitRemove(op: Extract<Op, { kind: "remove" }>): void {
    const g = this.groups.get(op.group)!;
    for (const u of op.users) if (g.members.has(u)) this.leave(g, u, "user" in op.by ? op.by.user : "");
  }

  commitSetRole(op: Extract<Op, { kind: "setRole" }>): void {
    const g = this.groups.get(op.group)!;
    if (op.role === "OWNER") {
      if (g.owner && g.owner !== op.target) g.members.get(g.owner)!.role = "ADMIN";
      g.owner = op.target;
    } else if (g.owner === op.target) {
      g.owner = "";
    }
    g.members.get(op.target)!.role = op.role;
  }

  commitDismiss(op: Extract<Op, { kind: "dismiss" }>): void {
    const g = this.groups.get(op.group)!;
    this.emit(g.members.keys(), { group: g.id, stored: true, key: `GroupDismissed ${g.id}` });
    g.dismissed = true;
  }

  /** A new message the server accepted (not an idempotent replay). */
  commitSend(key: string, by: Actor, sender: string, group: string, spec: SendSpec, id: string, time: bigint): MessageModel {
    const g = this.groups.get(group)!;
    const stored = !spec.onlineOnly && g.type !== "AVCHATROOM";
    const incarnations = new Map([sender, ...spec.receivers].filter(Boolean).map((u) => [u, this.incarnation(u)] as const));
    const m: MessageModel = {
      key,
      group,
      seq: stored ? g.latestSeq + 1 : 0,
      sender,
      by,
      spec,
      id,
      time,
      sentAtMs: this.clockMs,
      recalled: false,
      recalledBy: "",
      text: spec.text,
      customData: "",
      editCount: 0,
      editTime: 0n,
      incarnations,
      reactions: [],
      reacted: false,
      replyTo: spec.replyTo ? this.messages.get(spec.replyTo) : undefined,
      // RCP-2: a targeted message's receivers, else the members at send; never the sender.
      receipts: spec.readReceipts ? new Map((spec.receivers.length ? spec.receivers : [...g.members.keys()]).filter((u) => u !== sender).map((u) => [u, undefined])) : undefined,
    };
    this.messages.set(key, m);
    this.byId.set(id, m);
    if (spec.clientMessageId) this.idem.set(`${sender}|${group}|${spec.clientMessageId}`, key);
    const audience = [...g.members.keys()].filter((u) => this.inAudience(u, m));
    if (stored) {
      g.latestSeq = m.seq;
      g.stored.push(m);
      const ms = sender ? g.members.get(sender) : undefined;
      if (ms && ms.readSeq < m.seq) ms.readSeq = m.seq; // UNR-5
    }
    this.emit(audience, { group, stored, key: Model.receivedKey(m, false), message: m });
    return m;
  }

  commitRecall(op: Extract<Op, { kind: "recall" }>): void {
    const m = this.messages.get(op.msg)!;
    const g = this.groups.get(m.group)!;
    const audience = [...g.members.keys()].filter((u) => this.maySee(u, m)); // VIS-1 at recall time
    m.recalled = true;
    m.recalledBy = "user" in op.by ? op.by.user : "";
    m.reactions = []; // RCT-8: gone, and no ReactionChanged says so
    this.emit(audience, { group: g.id, stored: true, key: `MessageRecalled ${g.id} id=${m.id} seq=${m.seq} by=${m.recalledBy}` });
  }

  /**
   * An accepted edit (EDT-3, EDT-4): the new content, one more edit, the server's edit_time; and
   * MessageEdited, carrying the message as the edit leaves it, to the users who may see the
   * message now (VIS-1) — the audience a recall now would have. Nothing else changes (EDT-5).
   */
  commitEdit(op: Extract<Op, { kind: "edit" }>, editTime: bigint): void {
    const m = this.messages.get(op.msg)!;
    const g = this.groups.get(m.group)!;
    const audience = [...g.members.keys()].filter((u) => this.maySee(u, m));
    m.text = op.text;
    m.customData = op.data;
    m.editCount++;
    m.editTime = editTime;
    this.emit(audience, { group: g.id, stored: true, key: Model.editedKey(m, false), message: m, edited: true });
  }

  /**
   * An accepted AddReaction / RemoveReaction: a change (RCT-3) updates the message's reactions and
   * sends ReactionChanged, with the reaction's new count, to the users who may see the message now
   * (RCT-7, DRV-1) — the audience a recall now would have. Returns whether anything changed.
   */
  commitReaction(op: ReactionOp): boolean {
    const m = this.messages.get(op.msg)!;
    const g = this.groups.get(m.group)!;
    const caller = op.by.user;
    const added = op.kind === "addReaction";
    const at = m.reactions.findIndex((u) => u.user === caller && u.reaction === op.reaction);
    if (added === at >= 0) return false;
    if (added) m.reactions.push({ reaction: op.reaction, user: caller, atMs: this.clockMs });
    else m.reactions.splice(at, 1);
    m.reacted = true;
    const count = m.reactions.filter((u) => u.reaction === op.reaction).length;
    const audience = [...g.members.keys()].filter((u) => this.maySee(u, m));
    this.emit(audience, { group: g.id, stored: true, key: Model.reactionChangedKey(m, op.reaction, caller, added, count) });
    return true;
  }

  /**
   * AdminService.DeleteUser then ImportUsers of the same ID (ADM-11): every membership ends as a
   * removal by the app backend, join requests, idempotency records and reactions go (the last
   * with no ReactionChanged, RCT-5), and the new user with the same ID starts with nothing.
   */
  commitDeleteAndReimport(user: string): void {
    for (const g of this.groups.values()) {
      if (g.dismissed) continue;
      g.joinRequests.delete(user);
      if (g.members.has(user)) this.leave(g, user, "");
    }
    for (const k of [...this.idem.keys()]) if (k.startsWith(`${user}|`)) this.idem.delete(k);
    for (const m of this.messages.values()) {
      m.reactions = m.reactions.filter((u) => u.user !== user);
      m.receipts?.delete(user); // RCP-2: no longer a reader, and no MessageRead says so
    }
    this.incarnations.set(user, this.incarnation(user) + 1);
  }

  /**
   * An accepted SendReadReceipts (RCP-3, RCP-5): in ascending seq order, each message that asked
   * for receipts and has the caller as an unread reader records the read, and its sender gets a
   * MessageRead with the counts after it if they may see the message now. Returns the messages
   * whose receipts changed.
   */
  commitAck(op: Extract<Op, { kind: "ack" }>): MessageModel[] {
    const ms = [...new Set(op.msgs.map((k) => this.messages.get(k)!))].sort((a, b) => a.seq - b.seq);
    const changed: MessageModel[] = [];
    for (const m of ms) {
      if (!m.receipts || !m.receipts.has(op.user) || m.receipts.get(op.user) !== undefined) continue;
      m.receipts.set(op.user, this.clockMs);
      changed.push(m);
      if (m.sender && this.maySee(m.sender, m)) this.emit([m.sender], { group: m.group, stored: true, key: Model.messageReadKey(m, op.user) });
    }
    return changed;
  }

  /** MarkConversationRead (UNR-3): returns whether the position moved. */
  commitMarkRead(op: Extract<Op, { kind: "markRead" }>): boolean {
    const g = this.groups.get(op.group)!;
    const ms = g.members.get(op.user)!;
    const target = op.readSeq === 0 ? g.latestSeq : Math.min(op.readSeq, g.latestSeq);
    if (target <= ms.readSeq) return false;
    ms.readSeq = target;
    const c = this.conversation(op.user, op.group);
    const alt = Model.conversationKey(this.conversation(op.user, op.group, "meetingRejoinLast"));
    const key = Model.conversationKey(c);
    this.emit([op.user], { group: g.id, stored: true, key, altKey: alt !== key ? alt : undefined, conversation: c });
    return true;
  }
}

/** The well-formed message ID no message has, sent for UNKNOWN_MESSAGE. */
export const UNKNOWN_MESSAGE_ID = "msg_nosuchmessage000000";

export function isGroup(x: GroupModel | Outcome): x is GroupModel {
  return (x as GroupModel).members !== undefined;
}

export function priorityNumber(p: PriorityName): number {
  return { UNSPECIFIED: 0, HIGH: 1, NORMAL: 2, LOW: 3 }[p];
}
