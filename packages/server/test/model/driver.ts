// Runs the model's operations against the server through the public wire API only, checks each
// answer against the model's plan, commits successes to the model, and routes the model's
// expected events to the user's open streams.
import { GroupType, MemberRole, MessagePriority, type Message } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { Clients, PROTOCOLS, attempt, type Protocol, type Result } from "./clients.js";
import type { Env } from "./env.js";
import { ModelFailure } from "./failure.js";
import { Model, priorityNumber, UNKNOWN_MESSAGE_ID, type ExpectedEvent, type MessageModel } from "./model.js";
import { actorName, UNKNOWN_MESSAGE, type Actor, type Op, type ReactionOp, type SendSpec } from "./ops.js";
import { Prng } from "./prng.js";
import { Covered, ModelStream, renderEvent, renderReceived, type SavedCursor } from "./stream.js";
import { create } from "@bufbuild/protobuf";
import { EventSchema } from "@narrowcast/gen";

export interface Tolerances {
  /** Known: a targeted message's receiver who left still gets its MessageRecalled live (VIS-2). */
  recallToLeftReceiver: boolean;
  /** Known: in MEETING a re-joined receiver never gets an earlier targeted message as last message (VIS-3). */
  meetingRejoinLast: boolean;
}

export const NO_TOLERANCES: Tolerances = { recallToLeftReceiver: false, meetingRejoinLast: false };

/** Hang guard for stream barriers; a server that never delivers fails instead of hanging. */
export const GUARD_MS = 5_000;

function toNs(t: { seconds: bigint; nanos: number } | undefined): bigint {
  return t ? t.seconds * 1_000_000_000n + BigInt(t.nanos) : 0n;
}

const GROUP_TYPE = { WORK: GroupType.WORK, PUBLIC: GroupType.PUBLIC, MEETING: GroupType.MEETING, COMMUNITY: GroupType.COMMUNITY, AVCHATROOM: GroupType.AVCHATROOM } as const;
const ROLE = { OWNER: MemberRole.OWNER, ADMIN: MemberRole.ADMIN, MEMBER: MemberRole.MEMBER } as const;

export class Driver {
  readonly clients: Clients;
  readonly streams = new Map<string, ModelStream>();
  /** Per user, cursors seen (oldest first), for resumes from the latest and from an older one. */
  readonly saved = new Map<string, SavedCursor[]>();
  appId = "";
  /** The message the last step touched (checked by GetMessage for every user). */
  touchedMessage: MessageModel | undefined;
  touchedGroup: string | undefined;
  /** The messages an accepted SendReadReceipts named (their receipts are checked after the step). */
  touchedAcked: MessageModel[] = [];
  /** Per user, the node of their latest stream (pg2: their sends go to the other node). */
  private readonly streamNode = new Map<string, number>();

  constructor(
    readonly env: Env,
    readonly model: Model,
    readonly rng: Prng,
    readonly tolerate: Tolerances,
  ) {
    this.clients = new Clients(env.nodes, env.nodes[0]!.adminKey);
    for (const u of model.users) this.saved.set(u, []);
    model.onEvent = (user, index, event) => this.route(user, index, event);
  }

  protocol(): Protocol {
    return this.rng.pick(PROTOCOLS);
  }

  node(): number {
    return this.rng.int(this.env.nodes.length);
  }

  private sendNode(user: string): number {
    const n = this.env.nodes.length;
    const s = this.streamNode.get(user);
    return n === 1 ? 0 : s === undefined ? this.node() : (s + 1) % n;
  }

  admin() {
    return this.clients.admin(this.node(), this.protocol());
  }

  user(user: string, node = this.node()) {
    return this.clients.user(user, node, this.protocol());
  }

  async setup(): Promise<void> {
    const admin = this.admin();
    const { app } = await admin.createApp({ name: "model", plan: Plan.ULTIMATE });
    this.appId = app!.appId;
    await admin.importUsers({ appId: this.appId, users: this.model.users.map((userId) => ({ userId, nickname: userId })) });
    for (const u of this.model.users) {
      const { token } = await admin.issueUserToken({ appId: this.appId, userId: u, ttl: { seconds: 30n * 86400n, nanos: 0 } });
      this.clients.tokens.set(u, token);
    }
  }

  /** A new expected event of `user`: every open (ready) stream of theirs must receive it live. */
  private route(user: string, index: number, event: ExpectedEvent): void {
    for (const s of this.streams.values()) {
      if (s.user !== user || !s.isReady) continue;
      // Live: the event as it happened (a MessageReceived as sent, a MessageEdited as it announced).
      s.expected.push({ index, group: event.group, key: event.key, altKey: event.altKey });
    }
  }

  openStreams(): { id: string; user: string }[] {
    return [...this.streams.values()].map((s) => ({ id: s.id, user: s.user }));
  }

  private resends = 0;

  /** Per op kind: how many succeeded and how many were (rightly) rejected. */
  readonly stats = new Map<string, { ok: number; rejected: number }>();

  /** Per op kind and reason, how many calls were (rightly) rejected so. */
  readonly rejections = new Map<string, Map<string, number>>();

  /** Per op kind, how many accepted calls rightly changed nothing (RCT-3's idempotent add and remove, RCP-3's acknowledgements). */
  readonly unchanged = new Map<string, number>();

  private compare<T>(op: Op, planned: ReturnType<Model["plan"]>, result: Result<T>): T | undefined {
    if (planned.skip) return undefined;
    // Sends are also counted as replies (RPL-1) and as asking for receipts (RCP-1), to show what a run covered.
    const spec = op.kind === "send" ? op.spec : op.kind === "resend" ? this.model.messages.get(op.of)?.spec : undefined;
    const kinds = [op.kind, ...(spec?.replyTo ? ["send.reply"] : []), ...(spec?.readReceipts ? ["send.receipts"] : [])];
    for (const kind of kinds) {
      const st = this.stats.get(kind) ?? { ok: 0, rejected: 0 };
      this.stats.set(kind, st);
      if (result.ok) st.ok++;
      else {
        st.rejected++;
        const byReason = this.rejections.get(kind) ?? new Map<string, number>();
        this.rejections.set(kind, byReason);
        byReason.set(result.reason, (byReason.get(result.reason) ?? 0) + 1);
      }
    }
    if (planned.ok && !result.ok) throw new ModelFailure(ruleOf(op), `${op.kind} must succeed`, "success", `${result.reason}: ${result.message}`);
    if (!planned.ok && result.ok) throw new ModelFailure(ruleOf(op, planned.reasons[0]), `${op.kind} must be rejected and leave no trace`, planned.reasons, "success");
    if (!planned.ok && !result.ok && !planned.reasons.includes(result.reason)) {
      throw new ModelFailure(ruleOf(op, planned.reasons[0]), `${op.kind} rejected with the wrong reason`, planned.reasons, `${result.reason}: ${result.message}`);
    }
    // The error's field and ids (RPL-1, RPL-2, RCP-1, RCP-3), where the model names them.
    if (!planned.ok && !result.ok && result.reason === planned.reasons[0]) {
      const sorted = (ids: readonly string[]) => [...ids].sort().join(",");
      if (planned.field !== undefined && result.field !== planned.field) throw new ModelFailure(ruleOf(op, result.reason), `${op.kind} ${result.reason}: ErrorInfo field`, planned.field, result.field);
      if (planned.ids !== undefined && sorted(result.ids) !== sorted(planned.ids)) throw new ModelFailure(ruleOf(op, result.reason), `${op.kind} ${result.reason}: ErrorInfo ids`, sorted(planned.ids), sorted(result.ids));
    }
    return result.ok ? result.value : undefined;
  }

  /** Executes one operation; returns false if the model skipped it. */
  async execute(op: Op): Promise<boolean> {
    this.touchedMessage = undefined;
    this.touchedAcked = [];
    this.touchedGroup = "group" in op ? op.group : undefined;
    const planned = this.model.plan(op);
    if (planned.skip) return false;
    const m = this.model;
    switch (op.kind) {
      case "createGroup": {
        const type = GROUP_TYPE[op.type];
        const r = await attempt(async () =>
          "user" in op.by
            ? (await this.user(op.by.user).groups.createGroup({ type, name: op.group, groupId: op.group, memberIds: op.members })).group
            : (await this.admin().createGroup({ appId: this.appId, type, name: op.group, groupId: op.group, ownerId: op.owner, memberIds: op.members })).group,
        );
        const g = this.compare(op, planned, r);
        if (g) m.commitCreate(op, toNs(g.createTime));
        return true;
      }
      case "invite": {
        const r = await attempt<object>(() =>
          "user" in op.by
            ? this.user(op.by.user).groups.inviteMembers({ groupId: op.group, userIds: op.users })
            : this.admin().addMembers({ appId: this.appId, groupId: op.group, userIds: op.users }),
        );
        if (this.compare(op, planned, r)) m.commitInvite(op);
        return true;
      }
      case "join": {
        const r = await attempt(() => this.user(op.user).groups.joinGroup({ groupId: op.group, message: op.note }));
        const v = this.compare(op, planned, r);
        if (v) {
          const g = m.groups.get(op.group)!;
          const want = g.type === "PUBLIC" ? "joinRequest" : "member";
          if (v.result.case !== want) throw new ModelFailure(g.type === "PUBLIC" ? "GRP-3" : "GRP-4", "JoinGroup response", want, v.result.case);
          m.commitJoin(op);
        }
        return true;
      }
      case "approve":
      case "reject": {
        const api = this.user(op.user).groups;
        const req = { groupId: op.group, userId: op.applicant };
        const r = await attempt<object>(() => (op.kind === "approve" ? api.approveJoinRequest(req) : api.rejectJoinRequest(req)));
        if (this.compare(op, planned, r)) m.commitDecide(op);
        return true;
      }
      case "leave": {
        const r = await attempt(() => this.user(op.user).groups.leaveGroup({ groupId: op.group }));
        if (this.compare(op, planned, r)) m.commitLeave(op);
        return true;
      }
      case "remove": {
        const r = await attempt<object>(() =>
          "user" in op.by
            ? this.user(op.by.user).groups.removeMembers({ groupId: op.group, userIds: op.users })
            : this.admin().removeMembers({ appId: this.appId, groupId: op.group, userIds: op.users }),
        );
        if (this.compare(op, planned, r)) m.commitRemove(op);
        return true;
      }
      case "setRole": {
        const role = ROLE[op.role];
        const r = await attempt<object>(() =>
          "user" in op.by
            ? this.user(op.by.user).groups.setMemberRole({ groupId: op.group, userId: op.target, role })
            : this.admin().setMemberRole({ appId: this.appId, groupId: op.group, userId: op.target, role }),
        );
        if (this.compare(op, planned, r)) m.commitSetRole(op);
        return true;
      }
      case "dismiss": {
        const r = await attempt<object>(() =>
          "user" in op.by ? this.user(op.by.user).groups.dismissGroup({ groupId: op.group }) : this.admin().dismissGroup({ appId: this.appId, groupId: op.group }),
        );
        if (this.compare(op, planned, r)) m.commitDismiss(op);
        return true;
      }
      case "send":
        return this.send(op, planned, op.msg, op.by, op.sender, op.group, op.spec);
      case "resend": {
        const orig = m.messages.get(op.of)!;
        this.touchedGroup = orig.group;
        return this.send(op, planned, orig.key, orig.by, orig.sender, orig.group, orig.spec);
      }
      case "recall": {
        const msg = m.messages.get(op.msg)!;
        this.touchedMessage = msg;
        const r = await attempt<object>(() =>
          "user" in op.by
            ? this.user(op.by.user).messages.recallMessage({ groupId: op.group, messageId: msg.id })
            : this.admin().recallMessage({ appId: this.appId, groupId: op.group, messageId: msg.id }),
        );
        const recalled = this.compare(op, planned, r) as { message?: Message } | undefined;
        if (recalled) {
          m.commitRecall(op);
          // The response shows the message after recall: no elements, `recall` set (MSG-11).
          const want = Model.receivedKey(msg, true);
          const have = recalled.message ? renderReceived(recalled.message) : "no message";
          if (have !== want) throw new ModelFailure("MSG-11", "RecallMessage response", want, have);
        }
        return true;
      }
      case "edit": {
        const msg = m.messages.get(op.msg)!;
        this.touchedMessage = msg;
        const caller = op.by.user;
        const req = {
          groupId: op.group,
          messageId: msg.id,
          elements: [{ element: { case: "text" as const, value: { text: op.text } } }],
          customData: new TextEncoder().encode(op.data),
        };
        // Like a send, from a node other than the caller's stream's (pg2/pg3: MessageEdited crosses nodes).
        const r = await attempt(() => this.clients.user(caller, this.sendNode(caller), this.protocol()).messages.editMessage(req));
        const res = this.compare(op, planned, r);
        if (res) {
          if (!res.message) throw new ModelFailure("EDT-3", "EditMessage response", "the edited message", "no message");
          const editTime = toNs(res.message.edit?.editTime);
          m.commitEdit(op, editTime);
          // The response is the message as the edit leaves it: new content, `edit` set, all else kept (EDT-3).
          const want = Model.receivedKey(msg, false);
          const have = renderReceived(res.message);
          if (have !== want) throw new ModelFailure("EDT-3", "EditMessage response", want, have);
          // edit_time is on the servers' clock: as far after server_time as the model's clock moved.
          const wantTime = msg.time + BigInt(m.clockMs - msg.sentAtMs) * 1_000_000n;
          if (editTime !== wantTime) throw new ModelFailure("EDT-3", `edit_time of ${msg.key} (server_time ${msg.time} ns)`, String(wantTime), String(editTime));
        }
        return true;
      }
      case "addReaction":
      case "removeReaction":
        return this.react(op, planned);
      case "ack": {
        const ids = op.msgs.map((k) => (k === UNKNOWN_MESSAGE ? UNKNOWN_MESSAGE_ID : m.messages.get(k)!.id));
        const r = await attempt(() => this.clients.user(op.user, this.sendNode(op.user), this.protocol()).messages.sendReadReceipts({ groupId: op.group, messageIds: ids }));
        if (this.compare(op, planned, r)) {
          this.touchedAcked = [...new Set(op.msgs.map((k) => m.messages.get(k)!))];
          if (m.commitAck(op).length === 0) this.unchanged.set(op.kind, (this.unchanged.get(op.kind) ?? 0) + 1);
        }
        return true;
      }
      case "markRead": {
        const r = await attempt(() => this.user(op.user).conversations.markConversationRead({ groupId: op.group, readSeq: BigInt(op.readSeq) }));
        const v = this.compare(op, planned, r);
        if (v) {
          m.commitMarkRead(op);
          // The response is the conversation after the mark (UNR-3), computed for the caller.
          const want = Model.conversationKey(m.conversation(op.user, op.group));
          const alt = Model.conversationKey(m.conversation(op.user, op.group, "meetingRejoinLast"));
          const have = renderEvent(create(EventSchema, { payload: { case: "conversationUpdated", value: { conversation: v.conversation } } })).key;
          if (have !== want && !(this.tolerate.meetingRejoinLast && have === alt)) throw new ModelFailure("UNR-3", `MarkConversationRead(${op.readSeq}) response`, want, have);
        }
        return true;
      }
      case "openStream":
        await this.openStream(op);
        return true;
      case "closeStream": {
        const s = this.streams.get(op.stream);
        if (!s) return false;
        s.close();
        this.streams.delete(op.stream);
        return true;
      }
      case "deleteUser": {
        // Whether a deleted user's open streams end is not specified: close them first.
        for (const [id, s] of [...this.streams]) {
          if (s.user !== op.user) continue;
          s.close();
          this.streams.delete(id);
        }
        this.saved.set(op.user, []);
        const admin = this.admin();
        await admin.deleteUser({ appId: this.appId, userId: op.user });
        m.commitDeleteAndReimport(op.user);
        await admin.importUsers({ appId: this.appId, users: [{ userId: op.user, nickname: op.user }] });
        // Back into the barrier group, which every user stays in.
        const back = { kind: "invite" as const, by: { admin: true as const }, group: "g0", users: [op.user] };
        if (m.groups.has("g0")) {
          await admin.addMembers({ appId: this.appId, groupId: "g0", userIds: [op.user] });
          m.commitInvite(back);
        }
        return true;
      }
      case "advanceClock":
        m.clockMs += op.seconds * 1000;
        this.env.setClock(m.clockMs);
        return true;
    }
  }

  private async send(op: Op, planned: ReturnType<Model["plan"]>, key: string, by: Actor, sender: string, group: string, spec: SendSpec): Promise<boolean> {
    const m = this.model;
    const replay = m.replayOf(sender, group, spec);
    const req = {
      groupId: group,
      elements: [{ element: { case: "text" as const, value: { text: spec.text } } }],
      receiverIds: spec.receivers,
      mentionedUserIds: spec.mentions,
      mentionAll: spec.mentionAll,
      priority: priorityNumber(spec.priority) as MessagePriority,
      onlineOnly: spec.onlineOnly,
      excludeFromUnread: spec.excludeFromUnread,
      excludeFromLastMessage: spec.excludeFromLastMessage,
      countAsUnreadForReceivers: spec.countAsUnreadForReceivers,
      clientMessageId: spec.clientMessageId,
      replyToMessageId: !spec.replyTo ? "" : spec.replyTo === UNKNOWN_MESSAGE ? UNKNOWN_MESSAGE_ID : m.messages.get(spec.replyTo)!.id,
      requestReadReceipts: spec.readReceipts ?? false,
    };
    const r = await attempt(async () =>
      "user" in by
        ? (await this.clients.user(by.user, this.sendNode(by.user), this.protocol()).messages.sendMessage(req)).message!
        : (await this.admin().sendMessage({ appId: this.appId, senderId: sender, message: req })).message!,
    );
    const got = this.compare(op, planned, r);
    if (!got) return true;
    if (replay) {
      this.touchedMessage = replay;
      if (got.messageId !== replay.id || Number(got.seq) !== replay.seq) {
        throw new ModelFailure("MSG-10", "an idempotent send must return the original message", { id: replay.id, seq: replay.seq }, { id: got.messageId, seq: Number(got.seq) });
      }
      return true;
    }
    // A resend whose key is forgotten (its sender was deleted, ADM-11) is a new message.
    if (op.kind === "resend") key = `${key}.${++this.resends}`;
    const g = m.groups.get(group)!;
    const stored = !spec.onlineOnly && g.type !== "AVCHATROOM";
    const wantSeq = stored ? g.latestSeq + 1 : 0;
    const msg = m.commitSend(key, by, sender, group, spec, got.messageId, toNs(got.serverTime));
    this.touchedMessage = msg;
    const want = Model.receivedKey(msg, false);
    const have = renderReceived(got);
    if (Number(got.seq) !== wantSeq || have !== want) throw new ModelFailure(stored ? "MSG-2" : "MSG-9", `SendMessage response of ${actorName(by)}`, want, have);
    return true;
  }

  /**
   * AddReaction / RemoveReaction (RCT-1..8), from a node other than the caller's stream's (pg3:
   * ReactionChanged crosses nodes). The response is the message with `reactions` as the caller
   * now sees them (RCT-5).
   */
  private async react(op: ReactionOp, planned: ReturnType<Model["plan"]>): Promise<boolean> {
    const m = this.model;
    const msg = op.msg ? m.messages.get(op.msg)! : undefined;
    this.touchedMessage = msg;
    const caller = op.by.user;
    // A well-formed ID that no message has (DRV-1: MESSAGE_NOT_FOUND, as for one the caller may not see).
    const req = { groupId: op.group, messageId: msg?.id ?? "msg_nosuchmessage000000", reaction: op.reaction };
    const api = this.clients.user(caller, this.sendNode(caller), this.protocol()).messages;
    const r = await attempt(async () => (op.kind === "addReaction" ? await api.addReaction(req) : await api.removeReaction(req)).message);
    this.compare(op, planned, r);
    if (!r.ok) return true;
    if (!m.commitReaction(op)) this.unchanged.set(op.kind, (this.unchanged.get(op.kind) ?? 0) + 1);
    const want = m.viewKey(msg!, caller);
    const have = r.value ? renderReceived(r.value) : "no message";
    if (have !== want) throw new ModelFailure("RCT-5", `${op.kind} response of ${caller}`, want, have);
    return true;
  }

  private async openStream(op: Extract<Op, { kind: "openStream" }>): Promise<void> {
    const saved = this.saved.get(op.user)!;
    let from: SavedCursor | undefined;
    if (op.from === "latest") from = saved[saved.length - 1];
    else if (op.from === "older" && saved.length > 0) from = saved[op.olderPick % saved.length];
    const log = this.model.logs.get(op.user)!;
    const openAt = log.length;
    const start = from ? from.covered : new Covered(openAt);
    const node = this.node();
    this.streamNode.set(op.user, node);
    const protocol = this.protocol();
    const s = new ModelStream(op.stream, op.user, `${op.stream}(${op.user}@node${node}/${protocol}, from ${from ? op.from : "none"})`, start);
    // The replay: every stored event of the user's stream after the cursor, rendered as of now (EVT-3, MSG-11, EDT-4).
    for (let i = 0; i < openAt; i++) {
      const e = log[i]!;
      if (!e.stored || start.has(i)) continue;
      s.expected.push({ index: i, group: e.group, key: Model.replayKey(e), altKey: e.altKey });
    }
    s.replayCount = s.expected.length;
    s.openAt = openAt;
    s.start(this.clients.user(op.user, node, protocol).events, from?.cursor ?? "");
    const ok = await s.until(() => s.isReady, GUARD_MS);
    if (!ok || !s.isReady) throw new ModelFailure("EVT-3", `${s.label} did not send ready`, "ready", s.error?.message ?? "nothing");
    this.streams.set(op.stream, s);
  }

  /** Records a cursor the user received, for later resumes. */
  saveCursor(user: string, c: SavedCursor): void {
    const list = this.saved.get(user)!;
    list.push(c);
    if (list.length > 40) list.shift();
  }

  close(): void {
    for (const s of this.streams.values()) s.close();
    this.clients.close();
  }
}

/** The rule an operation's outcome is governed by, for failure reports. */
export function ruleOf(op: Op, reason?: string): string {
  if (op.kind === "addReaction" || op.kind === "removeReaction") {
    const byReactionReason: Record<string, string> = {
      FIELD_INVALID: "RCT-2",
      MESSAGE_NOT_FOUND: "RCT-1/DRV-1",
      ALREADY_RECALLED: "RCT-1",
      REACTION_LIMIT_REACHED: "RCT-4",
    };
    if (reason && byReactionReason[reason]) return byReactionReason[reason]!;
  }
  if (op.kind === "send" || op.kind === "resend") {
    const bySendReason: Record<string, string> = {
      MESSAGE_NOT_FOUND: "RPL-1/DRV-1",
      ALREADY_RECALLED: "RPL-1",
      REPLY_WIDENS_AUDIENCE: "RPL-2",
      READ_RECEIPTS_NOT_ALLOWED: "RCP-1",
    };
    if (reason && bySendReason[reason]) return bySendReason[reason]!;
  }
  if (op.kind === "ack" && reason === "MESSAGE_NOT_FOUND") return "RCP-3/DRV-1";
  if (op.kind === "edit") {
    const byEditReason: Record<string, string> = {
      INVALID_ELEMENT: "EDT-3/EDT-6",
      MESSAGE_NOT_FOUND: "EDT-1/DRV-1",
      EDIT_NOT_ALLOWED: "EDT-1",
      ALREADY_RECALLED: "EDT-2",
      EDIT_WINDOW_EXPIRED: "EDT-2",
    };
    if (reason && byEditReason[reason]) return byEditReason[reason]!;
  }
  if (reason) {
    const byReason: Record<string, string> = {
      NOT_A_MEMBER: "AUTH-5/MSG-1",
      GROUP_NOT_FOUND: "AUTH-5/GRP-9",
      RECEIVER_NOT_MEMBER: "TGT-5",
      TARGETED_WITH_MENTION: "TGT-11",
      DUPLICATE_RECEIVER: "TGT-3",
      SENDER_IN_RECEIVER_LIST: "TGT-3",
      GROUP_TYPE_UNSUPPORTED: "TGT-10",
      MENTIONED_USER_NOT_MEMBER: "MSG-6",
      RECALL_NOT_ALLOWED: "MSG-11",
      RECALL_WINDOW_EXPIRED: "MSG-11",
      ALREADY_RECALLED: "MSG-11",
      MESSAGE_NOT_FOUND: "MSG-11/VIS-1",
      ROLE_REQUIRED: "GRP-3/GRP-5",
      OWNER_CANNOT_LEAVE: "GRP-5",
      ALREADY_MEMBER: "GRP-11",
      JOIN_NOT_ALLOWED: "GRP-2",
      JOIN_REQUEST_NOT_FOUND: "GRP-3",
      FIELD_INVALID: "ERR-3",
    };
    if (byReason[reason]) return byReason[reason]!;
  }
  const byKind: Record<string, string> = { send: "MSG-1..10", resend: "MSG-10", recall: "MSG-11", edit: "EDT-1..6", addReaction: "RCT-1..8", removeReaction: "RCT-1..8", markRead: "UNR-3", ack: "RCP-3", join: "GRP-2..4", invite: "GRP-2..4", createGroup: "GRP-1", dismiss: "GRP-9", leave: "GRP-5", remove: "GRP-5", setRole: "GRP-5", approve: "GRP-3", reject: "GRP-3" };
  return byKind[op.kind] ?? op.kind;
}

