// Proof that the suite catches broken servers: each test starts the reference server with one
// rule deliberately broken (a decorated store or an extra interceptor, built here, never in
// production code), runs the relevant part of the suite over one protocol, and checks that the
// run fails and that a failing case cites the broken rule.
import { describe, expect, it } from "vitest";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { create, fromBinary } from "@bufbuild/protobuf";
import { ErrorInfoSchema, ErrorReason, EventSchema, type Message, type SendMessageRequest } from "@narrowcast/gen";
import { startServer, type ServerOptions, type Store, type StoredEvent } from "@narrowcast/server";

type PageQuery = Parameters<Store["listUsers"]>[1];
import { formatFailure, runSuite, type Protocol } from "../src/index.js";
import { selfTestOptions, selfTestWebhooks } from "./self-options.js";

// ---- building blocks for broken servers ----

/** A store that behaves like `store` except for the overridden methods. */
function override(store: Store, overrides: (inner: Store) => Partial<Store>): Store {
  const replaced = overrides(store);
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop in replaced) return replaced[prop as keyof Store];
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Remembers every targeted message a store accepted, per app and group. */
class TargetedLog {
  private readonly byGroup = new Map<string, Message[]>();
  record(appId: string, message: Message): void {
    if (message.receiverIds.length === 0 || message.seq === 0n) return;
    const key = `${appId}/${message.groupId}`;
    this.byGroup.set(key, [...(this.byGroup.get(key) ?? []), message]);
  }
  of(appId: string, groupId: string): Message[] {
    return this.byGroup.get(`${appId}/${groupId}`) ?? [];
  }
}

const everyone = { kind: "group" } as const;

function isSend(req: Parameters<Parameters<Interceptor>[0]>[0]): boolean {
  return !req.stream && req.method.name === "SendMessage";
}

function reasonOf(err: unknown): { reason: ErrorReason; ids: string[] } | undefined {
  const info = ConnectError.from(err).findDetails(ErrorInfoSchema).find((i) => i.domain === "narrowcast");
  if (!info) return undefined;
  const reason = ErrorReason[info.reason as keyof typeof ErrorReason];
  const ids = info.metadata.ids ?? "";
  return reason === undefined ? undefined : { reason, ids: ids === "" ? [] : ids.split(",") };
}

/** An interceptor that rewrites SendMessage requests before the server sees them. */
function rewriteSend(rewrite: (req: SendMessageRequest) => void): Interceptor {
  return (next) => async (req) => {
    if (isSend(req) && !req.stream) {
      const message = req.message as SendMessageRequest | { message?: SendMessageRequest };
      // MessageService.SendMessage carries the request itself; AdminService.SendMessage wraps it.
      const inner = "elements" in message ? message : message.message;
      if (inner) rewrite(inner);
    }
    return next(req);
  };
}

/** An interceptor that, when SendMessage fails with `reason`, runs `recover` (which may retry). */
function onSendError(reasons: ErrorReason[], recover: (err: unknown, retry: (rewrite: (req: SendMessageRequest) => void) => Promise<unknown>) => Promise<unknown>): Interceptor {
  return (next) => async (req) => {
    if (!isSend(req) || req.stream) return next(req);
    try {
      return await next(req);
    } catch (err) {
      const found = reasonOf(err);
      if (!found || !reasons.includes(found.reason)) throw err;
      const retry = async (rewrite: (r: SendMessageRequest) => void) => {
        const message = req.message as SendMessageRequest | { message?: SendMessageRequest };
        const inner = "elements" in message ? message : message.message;
        if (inner) rewrite(inner);
        return next(req);
      };
      return (await recover(err, retry)) as Awaited<ReturnType<typeof next>>;
    }
  };
}

function stripReceivers(req: SendMessageRequest, keep: (id: string) => boolean = () => false): void {
  req.receiverIds = req.receiverIds.filter(keep);
}

/**
 * Offset pagination, the classic PAG-1 bug: a page token remembers the position (index) of its
 * last item when the page was made, so items inserted before that position repeat on the next
 * page (and removals skip items).
 */
class OffsetPages {
  private readonly positions = new Map<string, number>();
  async page<T>(scope: string, page: PageQuery, all: () => Promise<T[]>, keyOf: (item: T) => string): Promise<T[]> {
    const items = await all();
    const start = page.after === undefined ? 0 : (this.positions.get(`${scope}|${page.after}`) ?? -1) + 1;
    const out = items.slice(start, start + page.limit);
    out.forEach((item, i) => this.positions.set(`${scope}|${keyOf(item)}`, start + i));
    return out;
  }
}

// ---- the broken servers ----

interface BrokenServer {
  name: string;
  /** The rule the breakage violates; a failing case must cite it. */
  rule: string;
  /** The part of the suite to run (a --filter). */
  filter: string;
  protocol: Protocol;
  options(): ServerOptions;
}

const broken: BrokenServer[] = [
  {
    name: "history leaks targeted messages to non-receivers",
    rule: "TGT-4",
    filter: "^tgt-",
    protocol: "connect",
    options() {
      const log = new TargetedLog();
      return {
        wrapStore: (s) =>
          override(s, (inner) => ({
            async appendMessage(input) {
              const out = await inner.appendMessage(input);
              log.record(input.appId, out.message);
              return out;
            },
            async listMessages(appId, groupId, query) {
              const page = await inner.listMessages(appId, groupId, query);
              const seen = new Set(page.messages.map((m) => m.messageId));
              const leaked = log.of(appId, groupId).filter((m) => !seen.has(m.messageId));
              const messages = [...page.messages, ...leaked].sort((a, b) => Number(a.seq - b.seq));
              return { ...page, messages };
            },
          })),
      };
    },
  },
  {
    name: "the live stream delivers targeted messages to the whole group",
    rule: "TGT-4",
    filter: "^tgt-",
    protocol: "grpc",
    options: () => ({
      wrapStore: (s) =>
        override(s, (inner) => ({
          async appendMessage(input) {
            const out = await inner.appendMessage(input);
            const event: StoredEvent = out.message.receiverIds.length > 0 ? { ...out.event, audience: everyone } : out.event;
            return { ...out, event };
          },
        })),
    }),
  },
  {
    name: "GetMessage ignores the audience",
    rule: "TGT-4",
    filter: "^tgt-",
    protocol: "grpc-web",
    options: () => ({
      // Ignores the viewer and drops the audience, so the service's own VIS-1 check sees an ordinary message.
      wrapStore: (s) =>
        override(s, (inner) => ({
          getMessage: async (appId, groupId, messageId) => {
            const message = await inner.getMessage(appId, groupId, messageId, null);
            if (message) message.receiverIds = [];
            return message;
          },
        })),
    }),
  },
  {
    name: "recall events of targeted messages reach the whole group",
    rule: "TGT-4",
    filter: "^tgt-.*recall",
    protocol: "connect",
    options: () => ({
      wrapStore: (s) =>
        override(s, (inner) => ({
          async recallMessage(...args) {
            const out = await inner.recallMessage(...args);
            return { ...out, event: { ...out.event, audience: everyone } };
          },
        })),
    }),
  },
  {
    name: "the last message shows targeted messages to everyone",
    rule: "CNV-2",
    filter: "^tgt-|^cnv-",
    protocol: "connect",
    options() {
      const log = new TargetedLog();
      return {
        wrapStore: (s) =>
          override(s, (inner) => ({
            async appendMessage(input) {
              const out = await inner.appendMessage(input);
              log.record(input.appId, out.message);
              return out;
            },
            async conversation(appId, groupId, userId) {
              const counters = await inner.conversation(appId, groupId, userId);
              const latest = log.of(appId, groupId).at(-1);
              if (!counters || !latest || (counters.lastMessage && counters.lastMessage.seq > latest.seq)) return counters;
              return { ...counters, lastMessage: latest };
            },
          })),
      };
    },
  },
  {
    name: "unread counts targeted messages without the opt-in",
    rule: "TGT-6",
    filter: "TGT-6|UNR-1",
    protocol: "grpc",
    options: () => ({
      wrapStore: (s) =>
        override(s, (inner) => ({
          appendMessage: (input) => inner.appendMessage(input.message.receiverIds.length > 0 && input.persist ? { ...input, countsAsUnread: true } : input),
        })),
    }),
  },
  {
    name: "a 51-receiver list is accepted (truncated to 50)",
    rule: "TGT-1",
    filter: "TGT-1",
    protocol: "connect",
    options: () => ({ interceptors: [rewriteSend((req) => void (req.receiverIds = req.receiverIds.length > 50 ? req.receiverIds.slice(0, 50) : req.receiverIds))] }),
  },
  {
    name: "receivers plus a mention are accepted (mentions dropped)",
    rule: "TGT-11",
    filter: "TGT-11",
    protocol: "grpc-web",
    options: () => ({
      interceptors: [
        rewriteSend((req) => {
          if (req.receiverIds.length > 0) {
            req.mentionedUserIds = [];
            req.mentionAll = false;
          }
        }),
      ],
    }),
  },
  {
    name: "a COMMUNITY group accepts targeted messages (sent as ordinary ones)",
    rule: "TGT-10",
    filter: "TGT-10",
    protocol: "connect",
    options: () => ({ interceptors: [onSendError([ErrorReason.GROUP_TYPE_UNSUPPORTED], (_err, retry) => retry((req) => stripReceivers(req)))] }),
  },
  {
    name: "a non-member receiver is accepted (silently dropped)",
    rule: "TGT-5",
    filter: "TGT-5",
    protocol: "grpc",
    options: () => ({
      interceptors: [
        onSendError([ErrorReason.RECEIVER_NOT_MEMBER], (err, retry) => {
          const bad = new Set(reasonOf(err)?.ids ?? []);
          return retry((req) => stripReceivers(req, (id) => !bad.has(id)));
        }),
      ],
    }),
  },
  {
    name: "a rejected send is half-stored (stored and delivered, then reported as rejected)",
    rule: "MSG-15",
    filter: "MSG-15",
    protocol: "connect",
    options: () => ({
      interceptors: [
        onSendError([ErrorReason.RECEIVER_NOT_MEMBER, ErrorReason.MENTIONED_USER_NOT_MEMBER], async (err, retry) => {
          await retry((req) => {
            stripReceivers(req);
            req.mentionedUserIds = [];
          }).catch(() => undefined);
          throw err;
        }),
      ],
    }),
  },
  {
    name: "an idempotent retry stores twice (client_message_id ignored)",
    rule: "MSG-10",
    filter: "MSG-10",
    protocol: "grpc-web",
    options: () => ({ interceptors: [rewriteSend((req) => void (req.clientMessageId = ""))] }),
  },
  {
    name: "duplicate receivers get the wrong error reason",
    rule: "TGT-3",
    filter: "TGT-3",
    protocol: "connect",
    options: () => ({
      interceptors: [
        onSendError([ErrorReason.DUPLICATE_RECEIVER], async () => {
          throw new ConnectError("bad receivers", Code.InvalidArgument, undefined, [
            { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { domain: "narrowcast", reason: "FIELD_INVALID", metadata: { field: "receiver_ids" } }) },
          ]);
        }),
      ],
    }),
  },
  {
    name: "resuming loses an event (the first replayed message)",
    rule: "EVT-3",
    filter: "EVT-3",
    protocol: "grpc",
    options: () => ({
      wrapStore: (s) =>
        override(s, (inner) => ({
          async readEvents(appId, userId, after, limit) {
            const events = await inner.readEvents(appId, userId, after, limit);
            const first = events.findIndex((e) => fromBinary(EventSchema, e.payload).payload.case === "messageReceived");
            return first < 0 ? events : events.filter((_, i) => i !== first);
          },
        })),
    }),
  },
  {
    name: "AVCHATROOM messages are stored",
    rule: "GRP-7",
    filter: "GRP-7",
    protocol: "connect",
    options: () => ({
      wrapStore: (s) => override(s, (inner) => ({ appendMessage: (input) => inner.appendMessage(input.message.onlineOnly ? input : { ...input, persist: true }) })),
    }),
  },
  {
    name: "a member who left keeps receiving the group's events",
    rule: "GRP-10",
    filter: "GRP-10",
    protocol: "grpc-web",
    options: () => ({
      wrapStore: (s) =>
        override(s, (inner) => ({
          async removeMembers(...args) {
            const events = await inner.removeMembers(...args);
            // Without the membership change the live fan-out never drops the leaver.
            return events.map(({ membership: _dropped, ...event }) => event);
          },
        })),
    }),
  },
  {
    name: "recall events of targeted messages reach receivers who left the group",
    rule: "VIS-2",
    filter: "VIS-2",
    protocol: "grpc",
    options: () => ({
      wrapStore: (s) =>
        override(s, (inner) => ({
          async recallMessage(...args) {
            const out = await inner.recallMessage(...args);
            if (out.message.receiverIds.length === 0) return out;
            // The audience as fixed at send time, ignoring who is still a member.
            const userIds = [...new Set([...out.message.receiverIds, out.message.senderId].filter((id) => id !== ""))];
            return { ...out, event: { ...out.event, audience: { kind: "users" as const, userIds } } };
          },
        })),
    }),
  },
  {
    name: "page tokens are offsets (items added before the position repeat)",
    rule: "PAG-1",
    filter: "PAG-1",
    protocol: "connect",
    options() {
      const pages = new OffsetPages();
      return {
        wrapStore: (s) =>
          override(s, (inner) => ({
            listMembers: (appId, groupId, userIds, page) =>
              userIds || !page ? inner.listMembers(appId, groupId, userIds, page) : pages.page(`m|${appId}|${groupId}`, page, () => inner.listMembers(appId, groupId), (m) => m.userId),
            listUserGroups: (appId, userId, page) =>
              !page ? inner.listUserGroups(appId, userId) : pages.page(`g|${appId}|${userId}`, page, () => inner.listUserGroups(appId, userId), (g) => g.groupId),
            listUsers: (appId, page) => pages.page(`u|${appId}`, page, () => inner.listUsers(appId, { limit: 1_000_000 }), (u) => u.userId),
          })),
      };
    },
  },
  {
    name: "the idempotency key is per sender, not per (sender, group)",
    rule: "MSG-10",
    filter: "MSG-10",
    protocol: "grpc",
    options() {
      const sent = new Map<string, Message>();
      const keyOf = (appId: string, senderId: string, key: string) => `${appId}|${senderId}|${key}`;
      return {
        wrapStore: (s) =>
          override(s, (inner) => ({
            async sendContext(appId, groupId, senderId, query) {
              const context = await inner.sendContext(appId, groupId, senderId, query);
              if (context.earlier || !query.clientMessageId) return context;
              return { ...context, earlier: sent.get(keyOf(appId, senderId, query.clientMessageId)) };
            },
            async appendMessage(input) {
              const key = input.message.clientMessageId;
              const prior = key ? sent.get(keyOf(input.appId, input.senderId, key)) : undefined;
              if (prior) {
                const event = create(EventSchema, {});
                return { message: prior, event: { appId: input.appId, partition: 0, position: 0, groupId: input.groupId, audience: everyone, event }, duplicate: true };

              }
              const out = await inner.appendMessage(input);
              if (key && !out.duplicate) sent.set(keyOf(input.appId, input.senderId, key), out.message);
              return out;
            },
          })),
      };
    },
  },
  {
    name: "errors lose their BadRequest and RetryInfo details (only the ErrorInfo is sent)",
    rule: "ERR-5",
    filter: "ERR-5",
    protocol: "grpc-web",
    options: () => ({
      interceptors: [
        (next) => async (req) => {
          try {
            return await next(req);
          } catch (err) {
            const ce = ConnectError.from(err);
            const info = ce.findDetails(ErrorInfoSchema)[0];
            if (!info) throw err;
            throw new ConnectError(ce.rawMessage, ce.code, ce.metadata, [{ desc: ErrorInfoSchema, value: info }]);
          }
        },
      ],
    }),
  },
];

describe("the suite catches deliberately broken servers", () => {
  it("has at least ten broken servers", () => {
    expect(broken.length).toBeGreaterThanOrEqual(10);
  });

  for (const b of broken) {
    it.concurrent(`${b.name} → fails, citing ${b.rule}`, async () => {
      const server = await startServer({ port: 0, ...b.options() });
      try {
        const result = await runSuite({ baseUrl: server.url, adminKey: server.adminKey, protocols: [b.protocol], filter: b.filter, negativeWaitMs: 150 });
        expect(result.setupError).toBeUndefined();
        expect(result.results.length).toBeGreaterThan(0);
        const failing = result.results.filter((r) => r.status === "failed");
        expect(result.ok, "the suite passed against a broken server").toBe(false);
        const citing = failing.filter((r) => r.rules.includes(b.rule));
        if (process.env.DEBUG_BROKEN) console.log(b.name, "\n", failing.map(formatFailure).join("\n"));
        expect(citing.length, `no failing case cites ${b.rule}; failures:\n${failing.map(formatFailure).join("\n")}`).toBeGreaterThan(0);
      } finally {
        await server.close();
      }
    }, 60_000);
  }
});

// ---- broken app backends (HOOK, spec section 16): the HOOK area runs with the suite's receiver ----

/**
 * Push requests for the whole group: the viewers of a stored message are every current member of
 * its group, whoever the message's audience is. The dispatcher asks by the event's place, so the
 * decoration remembers each appended message's group by that place.
 */
function pushesToWholeGroup(): ServerOptions {
  const groupOf = new Map<string, string>();
  const place = (appId: string, partition: number, position: number) => `${appId}|${partition}|${position}`;
  return {
    wrapStore: (s) =>
      override(s, (inner) => ({
        async appendMessage(input) {
          const out = await inner.appendMessage(input);
          groupOf.set(place(input.appId, out.event.partition, out.event.position), input.groupId);
          return out;
        },
        async eventViewers(appId, partition, position) {
          const groupId = groupOf.get(place(appId, partition, position));
          if (groupId === undefined) return inner.eventViewers(appId, partition, position);
          return (await inner.listMembers(appId, groupId)).map((m) => m.userId).sort();
        },
      })),
  };
}

const brokenBackends: BrokenServer[] = [
  {
    name: "push requests go to the whole group (a targeted message's non-receivers too)",
    rule: "HOOK-13",
    filter: "^hook-push-",
    protocol: "connect",
    options: pushesToWholeGroup,
  },
  {
    name: "the before-send endpoint is never asked (its answer is ignored)",
    rule: "HOOK-11",
    filter: "^hook-before-send-",
    protocol: "grpc",
    options: () => ({
      wrapStore: (s) =>
        override(s, (inner) => ({
          async sendContext(...args) {
            const { beforeSend: _ignored, ...context } = await inner.sendContext(...args);
            return context;
          },
        })),
    }),
  },
];

describe("the HOOK area catches deliberately broken app backends", () => {
  for (const b of brokenBackends) {
    it.concurrent(`${b.name} → fails, citing ${b.rule}`, async () => {
      const server = await startServer({ port: 0, ...b.options(), webhookRetry: selfTestOptions.webhookRetry });
      try {
        const result = await runSuite({ baseUrl: server.url, adminKey: server.adminKey, protocols: [b.protocol], filter: b.filter, webhooks: selfTestWebhooks });
        expect(result.setupError).toBeUndefined();
        expect(result.results.filter((r) => r.status === "skipped").map((r) => `${r.id}: ${r.skipReason}`)).toEqual([]);
        expect(result.results.length).toBeGreaterThan(0);
        const failing = result.results.filter((r) => r.status === "failed");
        expect(result.ok, "the suite passed against a broken server").toBe(false);
        const citing = failing.filter((r) => r.rules.includes(b.rule));
        if (process.env.DEBUG_BROKEN) console.log(b.name, "\n", failing.map(formatFailure).join("\n"));
        expect(citing.length, `no failing case cites ${b.rule}; failures:\n${failing.map(formatFailure).join("\n")}`).toBeGreaterThan(0);
      } finally {
        await server.close();
      }
    }, 120_000);
  }
});
