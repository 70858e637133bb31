// Shorthands shared by the case modules.
import { Code } from "@connectrpc/connect";
import { ErrorReason, type Conversation, type Message } from "@narrowcast/gen";
import { check, expectEqual, show } from "../check.js";
import { expectError, observe, type ObservedError } from "../errors.js";
import { describeMessage } from "../events.js";
import type { UserHandle } from "../fixtures.js";

/** The seqs of messages, as numbers. */
export function seqsOf(messages: readonly Message[]): number[] {
  return messages.map((m) => Number(m.seq));
}

/** Checks the seqs of a history page or list. */
export function expectSeqs(messages: readonly Message[], expected: number[], what: string): void {
  expectEqual(seqsOf(messages), expected, what);
}

/** Checks that the user sees the message on no read path: history and GetMessage. */
export async function expectInvisible(user: UserHandle, groupId: string, message: Message, why: string): Promise<void> {
  const history = await user.history(groupId);
  const leaked = history.find((m) => m.messageId === message.messageId);
  check(!leaked, `${user.id}'s ListMessages contains a message they may not see (${why})`, "not in history", describeMessage(leaked));
  await expectError(user.messages.getMessage({ groupId, messageId: message.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
    what: `${user.id}'s GetMessage of a message they may not see (${why})`,
  });
}

/** Checks that the user sees the message in history and through GetMessage, and returns it. */
export async function expectVisible(user: UserHandle, groupId: string, message: Message, why: string): Promise<Message> {
  const history = await user.history(groupId);
  const found = history.find((m) => m.messageId === message.messageId);
  check(found, `${user.id}'s ListMessages lacks a message they must see (${why})`, describeMessage(message), `history seqs ${JSON.stringify(seqsOf(history))}`);
  const res = await user.messages.getMessage({ groupId, messageId: message.messageId });
  expectEqual(res.message?.messageId, message.messageId, `${user.id}'s GetMessage (${why})`);
  return res.message!;
}

/** Checks a conversation's last message by ID ("" for none). */
export function expectLastMessage(conversation: Conversation, messageId: string, what: string): void {
  expectEqual(conversation.lastMessage?.messageId ?? "", messageId, `${what}: last_message ID`);
}

/** Checks a user's unread count in a group. */
export async function expectUnread(user: UserHandle, groupId: string, expected: number, why: string): Promise<Conversation> {
  const c = await user.conversation(groupId);
  expectEqual(Number(c.unreadCount), expected, `${user.id}'s unread count (${why})`);
  return c;
}

/** n user IDs with a prefix: user-1, user-2, … */
export function userIds(n: number, prefix = "user"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
}

/** What a caller can observe of a rejected call, minus nothing: code, ErrorInfo, details, message. */
export function errorFingerprint(o: ObservedError): string {
  return show({
    code: o.code,
    infos: o.infos.map((i) => ({ domain: i.domain, reason: i.reason, metadata: i.metadata })),
    badRequests: o.badRequests.map((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description }))),
    detailTypes: o.detailTypes,
    message: o.message,
  });
}

/** The error a call fails with (the case fails if it succeeds). */
export async function rejection(call: Promise<unknown>, what: string): Promise<ObservedError> {
  const o = await call.then(
    () => undefined,
    (err: unknown) => observe(err),
  );
  check(o, `${what} succeeded`, "an error");
  return o;
}
