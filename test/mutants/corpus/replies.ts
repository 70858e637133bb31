// Mutants of quote replies under the derived-item rule (RPL-n, DRV-1): who may quote what, that a
// reply widens no targeted message's audience, and what each reader is shown of the quote
// (packages/server/src/services/replies.ts and rules/replies.ts).
import { defineMutants } from "../types.js";

export const replyMutants = defineMutants([
  {
    id: "reply-quotes-below-history-floor",
    rule: "RPL-1",
    bug: "Lets a member quote any message the store returns, forgetting the history floor of a member who re-joined.",
    file: "services/replies.ts",
    from: "if (!quoted || (sender && !visibleTo(group, sender, quoted))) {",
    to: "if (!quoted) {",
  },
  {
    id: "reply-to-recalled",
    rule: "RPL-1",
    bug: "Accepts a reply to a recalled message.",
    file: "services/replies.ts",
    from: "  if (quoted.recall) {\n",
    to: "  if (quoted.recall && !quoted) {\n",
  },
  {
    id: "reply-id-unbounded",
    rule: "RPL-1",
    bug: "Accepts a reply_to_message_id of any length, so check 1 of section 9.1 no longer catches a malformed one.",
    file: "services/messaging.ts",
    from: "  validateReplyId(req.replyToMessageId);\n",
    to: "",
  },
  {
    id: "reply-ordinary-to-targeted",
    rule: "RPL-2",
    bug: "Accepts an ordinary reply to a targeted message, which shows the reply to the whole group.",
    file: "rules/replies.ts",
    from: 'if (replyReceivers.length === 0) return "everyone";',
    to: "if (replyReceivers.length === 0) return [];",
  },
  {
    id: "reply-receivers-unchecked",
    rule: "RPL-2",
    bug: "Accepts a targeted reply to a targeted message whatever its receivers.",
    file: "rules/replies.ts",
    from: "return replyReceivers.filter((id) => !inAudience(id, quoted));",
    to: "return [];",
  },
  {
    id: "quote-shown-below-history-floor",
    rule: "RPL-3",
    bug: "Shows a reply's quote to every reader who is in its audience, forgetting the history floor.",
    file: "services/replies.ts",
    from: "if (!q || !visibleTo(group, member, q)) continue;",
    to: "if (!q) continue;",
  },
  {
    id: "quote-always-available",
    rule: "RPL-3",
    bug: "Marks every quote available, with no quoted message when the reader may not see it.",
    file: "services/replies.ts",
    from: "status: quoted ? QuoteStatus.AVAILABLE : QuoteStatus.UNAVAILABLE,",
    to: "status: QuoteStatus.AVAILABLE,",
  },
  {
    id: "quote-keeps-nested-quote",
    rule: "RPL-3",
    bug: "Leaves the quoted message's own resolved state in place instead of the ID alone (a quote is not a thread).",
    file: "services/replies.ts",
    from: "if (q.replyTo) q.replyTo = create(ReplyToSchema, { messageId: q.replyTo.messageId });",
    to: "if (q.replyTo) q.replyTo = create(ReplyToSchema, { messageId: q.replyTo.messageId, status: QuoteStatus.AVAILABLE });",
  },
]);
