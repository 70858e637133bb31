// One Subscribe stream watched by the model: what it received (rendered to the model's event
// keys) next to what it must receive, and which of the user's expected events each cursor it
// got covers, so that a later resume from that cursor knows exactly what must be replayed.
import { ConnectError, type Client } from "@connectrpc/connect";
import { EventService, MessagePriority, QuoteStatus, type Event, type Message } from "@narrowcast/gen";

/** The set of a user's expected-log indexes a cursor stands for: every index < low, plus extra. */
export class Covered {
  constructor(
    public low = 0,
    public readonly extra = new Set<number>(),
  ) {}

  has(i: number): boolean {
    return i < this.low || this.extra.has(i);
  }

  add(i: number): void {
    if (i < this.low) return;
    this.extra.add(i);
    while (this.extra.delete(this.low)) this.low++;
  }

  copy(): Covered {
    return new Covered(this.low, new Set(this.extra));
  }
}

export interface SavedCursor {
  cursor: string;
  covered: Covered;
}

export interface ExpectedItem {
  index: number;
  group: string;
  key: string;
  altKey?: string;
}

export interface ReceivedItem {
  group: string;
  key: string;
  cursor: string;
  /** Before `ready` (replay) or after (live). */
  replay: boolean;
  index?: number;
}

/** Renders a received event the way the model renders expected ones. */
export function renderEvent(e: Event): { group: string; key: string } {
  const p = e.payload;
  switch (p.case) {
    case "messageReceived":
      return { group: p.value.message?.groupId ?? "", key: renderReceived(p.value.message!) };
    case "messageEdited":
      return { group: p.value.message?.groupId ?? "", key: `MessageEdited ${renderMessage(p.value.message!)}` };
    case "reactionChanged": {
      const v = p.value;
      return { group: v.groupId, key: `ReactionChanged ${v.groupId} id=${v.messageId} seq=${v.seq} reaction=${JSON.stringify(v.reaction)} user=${v.userId} added=${v.added} count=${v.count}` };
    }
    case "messageRead": {
      const v = p.value;
      return { group: v.groupId, key: `MessageRead ${v.groupId} id=${v.messageId} seq=${v.seq} reader=${v.readerId} read=${v.counts?.readCount ?? "?"} unread=${v.counts?.unreadCount ?? "?"}` };
    }
    case "messageRecalled":
      return { group: p.value.groupId, key: `MessageRecalled ${p.value.groupId} id=${p.value.messageId} seq=${p.value.seq} by=${p.value.recall?.recalledBy ?? "?"}` };
    case "conversationUpdated": {
      const c = p.value.conversation!;
      const last = c.lastMessage ? renderLast(c.lastMessage) : "";
      const type = ["UNSPECIFIED", "WORK", "PUBLIC", "MEETING", "COMMUNITY", "AVCHATROOM"][c.groupType];
      return {
        group: c.groupId,
        key: `ConversationUpdated ${c.groupId} ${type} unread=${c.unreadCount} read=${c.readSeq} me=${c.mentionedMe} all=${c.mentionedAll} last=${last}`,
      };
    }
    case "memberJoined": {
      const role = ["UNSPECIFIED", "OWNER", "ADMIN", "MEMBER"][p.value.member?.role ?? 0];
      return { group: p.value.groupId, key: `MemberJoined ${p.value.groupId} ${p.value.member?.userId} ${role} by=${p.value.addedBy}` };
    }
    case "memberLeft":
      return { group: p.value.groupId, key: `MemberLeft ${p.value.groupId} ${p.value.userId} by=${p.value.removedBy}` };
    case "groupDismissed":
      return { group: p.value.groupId, key: `GroupDismissed ${p.value.groupId}` };
    default:
      return { group: "", key: `unknown event ${String(p.case)}` };
  }
}

export function textOf(m: Message): string {
  return m.elements.map((e) => (e.element.case === "text" ? e.element.value.text : `<${e.element.case}>`)).join("");
}

/** The same rendering as Model.lastKey, from the wire message (a last message has no `reactions`, RCT-5). */
export function renderLast(m: Message): string {
  // Nor read receipts (RCP-4) or a resolved quote (RPL-3): shown only if (wrongly) present.
  const extra = `${m.readReceipts ? " read_receipts" : ""}${m.replyTo && (m.replyTo.status || m.replyTo.quoted) ? " quote_resolved" : ""}`;
  return `${m.messageId}${m.recall ? "(recalled)" : `:${textOf(m)}`}${m.edit ? `(edit ${m.edit.editCount})` : ""}${renderReactions(m)}${extra}`;
}

/** `reactions` as Model.reactionsPart renders them: empty where RCT-5 says a message has none. */
function renderReactions(m: Message): string {
  return m.reactions.length ? ` reactions=[${m.reactions.map((r) => `${JSON.stringify(r.reaction)}x${r.count}${r.callerReacted ? "*" : ""}`).join(",")}]` : "";
}

/** The same rendering as Model.receivedKey, from the wire message. */
export function renderReceived(m: Message): string {
  return `MessageReceived ${renderMessage(m)}`;
}

export function toNs(t: { seconds: bigint; nanos: number } | undefined): bigint {
  return t ? t.seconds * 1_000_000_000n + BigInt(t.nanos) : 0n;
}

/** The same rendering as Model.messageKey (and Model.viewKey's reactions), from the wire message. */
export function renderMessage(m: Message): string {
  const recalled = m.recall !== undefined;
  const parts = [
    `${m.groupId} seq=${m.seq} id=${m.messageId} from=${m.senderId}`,
    `text=${textOf(m)}`,
    m.customData.length ? `data=${new TextDecoder().decode(m.customData)}` : "",
    m.receiverIds.length ? `to=[${m.receiverIds.join(",")}]` : "",
    m.mentionedUserIds.length ? `mentions=[${m.mentionedUserIds.join(",")}]` : "",
    m.mentionAll ? "@all" : "",
    m.onlineOnly ? "online_only" : "",
    m.excludeFromUnread ? "no_unread" : "",
    m.excludeFromLastMessage ? "no_last" : "",
    m.countAsUnreadForReceivers ? "count_for_receivers" : "",
    `prio=${MessagePriority[m.priority]}`,
    m.edit ? `edit=${m.edit.editCount}@${toNs(m.edit.editTime)}` : "",
    recalled ? `recalled_by=${m.recall!.recalledBy}` : "",
    m.replyTo ? `reply=${m.replyTo.messageId}${renderQuote(m)}` : "",
    m.readReceiptsRequested ? "receipts" : "",
    m.readReceipts ? `read=${m.readReceipts.readCount}/${m.readReceipts.unreadCount}` : "",
  ];
  return parts.filter(Boolean).join(" ") + renderReactions(m);
}

/** RPL-3's resolution of a reply's quote, as Model.quotePart renders it; nothing where unresolved. */
function renderQuote(m: Message): string {
  const r = m.replyTo!;
  if (r.status === QuoteStatus.UNSPECIFIED && !r.quoted) return "";
  return `:${QuoteStatus[r.status]}${r.quoted ? `{${renderMessage(r.quoted)}}` : ""}`;
}

export class ModelStream {
  readonly expected: ExpectedItem[] = [];
  readonly received: ReceivedItem[] = [];
  readyCursor = "";
  isReady = false;
  ended = false;
  error: ConnectError | undefined;
  /** Expected items before `ready` (the replay). */
  replayCount = 0;
  /** The user's expected-log length when the stream was opened. */
  openAt = 0;
  /** Whether the checker has taken `ready` into account. */
  readyNoted = false;
  /** Covered set after everything received so far; and at the last non-empty cursor. */
  readonly running: Covered;
  last: SavedCursor | undefined;
  private readonly abort = new AbortController();
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly id: string,
    readonly user: string,
    readonly label: string,
    start: Covered,
  ) {
    this.running = start.copy();
  }

  start(client: Client<typeof EventService>, cursor: string): void {
    void this.read(client, cursor);
  }

  private async read(client: Client<typeof EventService>, cursor: string): Promise<void> {
    try {
      for await (const item of client.subscribe({ cursor }, { signal: this.abort.signal })) {
        if (item.item.case === "ready") {
          this.isReady = true;
          this.readyCursor = item.item.value.cursor;
        } else if (item.item.case === "event") {
          const { group, key } = renderEvent(item.item.value);
          this.received.push({ group, key, cursor: item.item.value.cursor, replay: !this.isReady });
        }
        this.notify();
      }
    } catch (err) {
      if (!this.abort.signal.aborted) this.error = ConnectError.from(err);
    }
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `done()` holds or the stream ended; rejects after `guardMs` (a hang guard, not an assertion on speed). */
  until(done: () => boolean, guardMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (done() || this.ended) finish(true);
      };
      const timer = setTimeout(() => finish(false), guardMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.abort.abort();
  }
}
