// The operations of the model-based test, as plain data: printable, replayable, and executable in
// any order (the model decides each one's expected outcome from its own state, so a shrunk list
// of operations still runs). Groups are named by the test ("g3"), messages by model keys ("m12").
export type GroupTypeName = "WORK" | "PUBLIC" | "MEETING" | "COMMUNITY" | "AVCHATROOM";
export const GROUP_TYPES: readonly GroupTypeName[] = ["WORK", "PUBLIC", "MEETING", "COMMUNITY", "AVCHATROOM"];
export type RoleName = "OWNER" | "ADMIN" | "MEMBER";
export type PriorityName = "UNSPECIFIED" | "HIGH" | "NORMAL" | "LOW";

/** Who performs an operation: a user through the user API, or the app backend through AdminService. */
export type Actor = { user: string } | { admin: true };

export interface SendSpec {
  text: string;
  receivers: string[];
  mentions: string[];
  mentionAll: boolean;
  onlineOnly: boolean;
  excludeFromUnread: boolean;
  excludeFromLastMessage: boolean;
  countAsUnreadForReceivers: boolean;
  priority: PriorityName;
  /** Empty: no idempotency key. */
  clientMessageId: string;
  /**
   * RPL-1: the model key of the message quoted; UNKNOWN_MESSAGE a well-formed ID no message has.
   * Absent or "": not a reply (scripts written before replies omit it).
   */
  replyTo?: string;
  /** RCP-1: request_read_receipts. */
  readReceipts?: boolean;
}

/** A message key that names a well-formed message ID no message has (DRV-1). */
export const UNKNOWN_MESSAGE = "unknown";

export type Op =
  | { kind: "createGroup"; by: Actor; group: string; type: GroupTypeName; owner: string; members: string[] }
  | { kind: "invite"; by: Actor; group: string; users: string[] }
  | { kind: "join"; user: string; group: string; note: string }
  | { kind: "approve"; user: string; group: string; applicant: string }
  | { kind: "reject"; user: string; group: string; applicant: string }
  | { kind: "leave"; user: string; group: string }
  | { kind: "remove"; by: Actor; group: string; users: string[] }
  | { kind: "setRole"; by: Actor; group: string; target: string; role: RoleName }
  | { kind: "dismiss"; by: Actor; group: string }
  /** `sender` "" with an admin actor is a system message (MSG-13). */
  | { kind: "send"; by: Actor; sender: string; group: string; msg: string; spec: SendSpec }
  /** Sends again with the client_message_id of an earlier message (MSG-10). */
  | { kind: "resend"; of: string }
  | { kind: "recall"; by: Actor; group: string; msg: string }
  /**
   * MessageService.EditMessage (EDT-1..6): one text element and custom data replace the content.
   * `text` "" is an element without content (INVALID_ELEMENT, EDT-3); `data` "" clears custom data.
   */
  | { kind: "edit"; by: { user: string }; group: string; msg: string; text: string; data: string }
  /**
   * MessageService.AddReaction / RemoveReaction (RCT-1..8) of `reaction` on message `msg` of the
   * model, named under `group` (another group's message is MESSAGE_NOT_FOUND, MSG-14); `msg` ""
   * is a well-formed message ID no message has.
   */
  | { kind: "addReaction" | "removeReaction"; by: { user: string }; group: string; msg: string; reaction: string }
  /**
   * MessageService.SendReadReceipts (RCP-3) of `msgs` (model keys, UNKNOWN_MESSAGE for an ID no
   * message has) by `user`, named under `group`.
   */
  | { kind: "ack"; user: string; group: string; msgs: string[] }
  | { kind: "markRead"; user: string; group: string; readSeq: number }
  | { kind: "openStream"; user: string; stream: string; from: "none" | "latest" | "older"; olderPick: number }
  | { kind: "closeStream"; stream: string }
  | { kind: "advanceClock"; seconds: number }
  /** AdminService.DeleteUser, then ImportUsers of the same ID (ADM-11); the user's streams are closed first. */
  | { kind: "deleteUser"; user: string };

/** The op kinds of reactions. */
export type ReactionOp = Extract<Op, { kind: "addReaction" | "removeReaction" }>;

export function isReactionOp(op: Op): op is ReactionOp {
  return op.kind === "addReaction" || op.kind === "removeReaction";
}

export function describeOp(op: Op): string {
  return JSON.stringify(op);
}

export function actorName(by: Actor): string {
  return "user" in by ? by.user : "admin";
}
