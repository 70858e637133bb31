// Quote replies (rule RPL-2): a reply never shows a targeted message to anyone outside its
// audience. Who may quote, and who is shown the quote, are VIS-1's (visibility.ts).
import { inAudience, isTargeted, type MessageFacts } from "./visibility.js";

/**
 * RPL-2: whom a reply with these receivers (none: an ordinary reply) would reach beyond the
 * quoted message's audience — "everyone" for an ordinary reply to a targeted message, else the
 * receivers outside it; [] when the reply widens nothing.
 */
export function replyOutsiders(quoted: MessageFacts, replyReceivers: readonly string[]): "everyone" | string[] {
  if (!isTargeted(quoted)) return [];
  if (replyReceivers.length === 0) return "everyone";
  return replyReceivers.filter((id) => !inAudience(id, quoted));
}
