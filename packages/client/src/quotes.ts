// Quote replies on the client (rules RPL-1 to RPL-3): an event carries a reply's quote as the
// quoted message's ID alone, because one event goes to many viewers and the quote is shown per
// viewer; this resolves it for one user, as history would show it to them.
import { QuoteStatus } from "@narrowcast/gen";
import { NarrowcastError } from "./errors.js";
import type { Message, ReplyTo } from "./model.js";
import { Reason } from "./reasons.js";

/**
 * The quote of `message` as `getMessage`'s user sees it now: undefined when `message` is not a
 * reply; its `replyTo` as it is when already resolved (from getMessage or listMessages);
 * otherwise the quoted message, read with `getMessage` — AVAILABLE with it, UNAVAILABLE when
 * the server answers MESSAGE_NOT_FOUND (not visible to this user, or gone: rule RPL-3 does not
 * tell them apart). Other errors are thrown.
 */
export async function resolveQuote(
  message: Pick<Message, "groupId" | "replyTo">,
  getMessage: (groupId: string, messageId: string) => Promise<Message>,
): Promise<ReplyTo | undefined> {
  const replyTo = message.replyTo;
  if (replyTo === undefined || replyTo.messageId === "") {
    return undefined;
  }
  if (replyTo.status !== QuoteStatus.UNSPECIFIED) {
    return replyTo;
  }
  let quoted: Message;
  try {
    quoted = await getMessage(message.groupId, replyTo.messageId);
  } catch (e) {
    if (e instanceof NarrowcastError && e.is(Reason.MESSAGE_NOT_FOUND)) {
      return { messageId: replyTo.messageId, status: QuoteStatus.UNAVAILABLE, quoted: undefined };
    }
    throw e;
  }
  // Shaped as the server shows a quote: the message itself, not a thread — its own quote by ID
  // alone, no reactions, no read receipts (getMessage gives them to the quoted message's sender;
  // `readReceiptsRequested` stays, as in the server's quote).
  const ownQuote = quoted.replyTo && { messageId: quoted.replyTo.messageId, status: QuoteStatus.UNSPECIFIED, quoted: undefined };
  return {
    messageId: replyTo.messageId,
    status: QuoteStatus.AVAILABLE,
    quoted: { ...quoted, replyTo: ownQuote, reactions: [], readReceipts: undefined },
  };
}
