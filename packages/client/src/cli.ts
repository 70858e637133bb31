// The `narrowcast` command: try the whole protocol from a terminal. Readable output by
// default, `--json` (one JSON value per line) for scripts. Run through bin/narrowcast.js.
import { toJson } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  ConversationSchema,
  EventSchema,
  GroupMemberSchema,
  GroupSchema,
  JoinRequestSchema,
  MessageSchema,
  ReactionSchema,
  ReadReceiptCountsSchema,
  ReadReceiptSchema,
} from "@narrowcast/gen";
import { AppSchema, UserSchema } from "@narrowcast/gen/admin";
import { Command, Option } from "commander";
import { AT_ALL, createMessage } from "./builders.js";
import type { ElementInit } from "./builders.js";
import {
  errorJson,
  formatConversation,
  formatError,
  formatEvent,
  formatGroup,
  formatJoinRequest,
  formatMember,
  formatMessage,
  formatReaction,
  formatReadReceipt,
  formatReceiptCounts,
  formatUser,
} from "./cli/format.js";
import { addWebhookCommands } from "./cli/webhook.js";
import { toProto } from "./convert.js";
import type { Plain } from "./convert.js";
import { NarrowcastError } from "./errors.js";
import { planName } from "./names.js";
import { walkPages } from "./paging.js";
import type { Page, PageOptions } from "./paging.js";
import { createAdminClient, createClient } from "./index.js";
import type { App, NarrowcastAdminClient, NarrowcastClient, Protocol, ReadReceiptCounts } from "./index.js";

interface GlobalOptions {
  url: string;
  protocol: Protocol;
  httpVersion: "1.1" | "2";
  json?: boolean;
  adminKey?: string;
  token?: string;
}

/** The paging options every list command takes. */
interface PagingFlags {
  pageSize?: number;
  pageToken?: string;
  all?: boolean;
}

/** Thrown for a usage problem the argument parser cannot see (e.g. a missing key). */
class UsageError extends Error {}

const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value.split(",").map((s) => s.trim()).filter(Boolean),
];

const program = new Command()
  .name("narrowcast")
  .description("Narrowcast from a terminal: apps, users, groups, (targeted) messages and live events.")
  .addOption(new Option("--url <url>", "server base URL").env("NARROWCAST_URL").default("http://127.0.0.1:8080"))
  .addOption(new Option("--protocol <protocol>", "wire protocol").choices(["connect", "grpc", "grpc-web"]).default("connect"))
  .addOption(new Option("--http-version <version>", "HTTP version").choices(["1.1", "2"]).default("2"))
  .addOption(new Option("--admin-key <key>", "admin key, for admin commands").env("NARROWCAST_ADMIN_KEY"))
  .addOption(new Option("--token <token>", "user token, for user commands").env("NARROWCAST_TOKEN"))
  .option("--json", "machine-readable output: one JSON value per line")
  .showHelpAfterError();

function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

function print(command: Command, text: string, json: unknown): void {
  process.stdout.write((globals(command).json ? JSON.stringify(json) : text) + "\n");
}

/** The protocol's canonical JSON of an SDK value (int64 as strings, enums by name). */
function jsonOf<Desc extends DescMessage>(schema: Desc, value: Plain<MessageShape<Desc>>) {
  return toJson(schema, toProto(schema, value));
}

function connection(g: GlobalOptions) {
  return { baseUrl: g.url, protocol: g.protocol, httpVersion: g.httpVersion };
}

/** Runs `body` with an admin client, closing it afterwards. */
async function withAdmin(command: Command, body: (admin: NarrowcastAdminClient, appId: string) => Promise<void>) {
  const g = globals(command);
  if (!g.adminKey) {
    throw new UsageError("admin commands need --admin-key or NARROWCAST_ADMIN_KEY (npm start prints where the key is)");
  }
  const admin = createAdminClient({ ...connection(g), adminKey: g.adminKey });
  try {
    await body(admin, command.opts().app ?? "");
  } finally {
    await admin.close();
  }
}

/** Runs `body` with a user client, closing it afterwards. */
async function withUser(command: Command, body: (client: NarrowcastClient) => Promise<void>) {
  const g = globals(command);
  if (!g.token) {
    throw new UsageError("user commands need --token or NARROWCAST_TOKEN (see: narrowcast admin token)");
  }
  const client = createClient({ ...connection(g), token: g.token });
  try {
    await body(client);
  } finally {
    await client.close();
  }
}

const appOption = () =>
  new Option("--app <appId>", "the app (from admin create-app)").env("NARROWCAST_APP").makeOptionMandatory();

/**
 * Adds the paging flags. List commands print one page by default (the server's page size) and
 * say how to get the next one; `--all` follows the page tokens to the end.
 */
function paged(command: Command): Command {
  return command
    .option("--page-size <n>", "items per page (0: the server's default)", Number)
    .option("--page-token <token>", "continue from this page token (printed after a page)")
    .option("--all", "follow the page tokens and print every item");
}

/** One page, or with --all every page from --page-token on (then `nextPageToken` is empty). */
async function fetchList<T>(flags: PagingFlags, fetchPage: (page: PageOptions) => Promise<Page<T>>): Promise<Page<T>> {
  if (!flags.all) {
    return fetchPage({ pageSize: flags.pageSize, pageToken: flags.pageToken });
  }
  const items: T[] = [];
  for await (const item of walkPages((pageToken) => fetchPage({ pageSize: flags.pageSize, pageToken }), flags.pageToken)) {
    items.push(item);
  }
  return { items, nextPageToken: "" };
}

/** Prints a page: one line per item (and a hint when more follow), or JSON `{ <key>: [...], nextPageToken }`. */
function printPage<T>(
  command: Command,
  key: string,
  page: Page<T>,
  line: (item: T) => string,
  json: (item: T) => unknown,
  none = `(no ${key})`,
) {
  const more = page.nextPageToken ? `\n(more: --page-token ${page.nextPageToken}, or --all)` : "";
  print(command, (page.items.map(line).join("\n") || none) + more, {
    [key]: page.items.map(json),
    nextPageToken: page.nextPageToken,
  });
}

function describeApp(app: App): string {
  const lines = [`app ${app.appId} "${app.name}" (plan ${planName(app.plan)})`];
  if (app.secret) {
    lines.push(`  secret: ${app.secret}`);
  }
  if (app.previousSecretExpireTime) {
    lines.push(`  the previous secret works until ${app.previousSecretExpireTime.toISOString()}`);
  }
  return lines.join("\n");
}

// ---- admin ---------------------------------------------------------------------------

const admin = program.command("admin").description("app backend commands (need the admin key)");

admin
  .command("create-app")
  .description("create an app (tenant); targeted messages need --plan ultimate")
  .option("--name <name>", "display name", "narrowcast-cli")
  .addOption(new Option("--plan <plan>", "plan").choices(["standard", "ultimate"]))
  .action(async (opts: { name: string; plan?: "standard" | "ultimate" }, command: Command) => {
    await withAdmin(command, async (client) => {
      const app = await client.createApp({ name: opts.name, plan: opts.plan });
      print(
        command,
        `Created ${describeApp(app)}\nUse it in the next commands with: export NARROWCAST_APP=${app.appId}`,
        jsonOf(AppSchema, app),
      );
    });
  });

admin
  .command("get-app")
  .description("show an app (without its secret)")
  .addOption(appOption())
  .action(async (_opts: object, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const app = await client.getApp(appId);
      print(command, describeApp(app), jsonOf(AppSchema, app));
    });
  });

admin
  .command("set-plan")
  .description("move an app to another plan (applies to the next request)")
  .addOption(new Option("--plan <plan>", "the new plan").choices(["standard", "ultimate"]).makeOptionMandatory())
  .addOption(appOption())
  .action(async (opts: { plan: "standard" | "ultimate" }, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const app = await client.setAppPlan(appId, opts.plan);
      print(command, `Moved ${describeApp(app)}`, jsonOf(AppSchema, app));
    });
  });

admin
  .command("rotate-secret")
  .description("replace an app's token secret; old tokens stop working at once unless --grace")
  .option("--grace <seconds>", "keep accepting tokens of the previous secret this long (at most 30 days)", Number)
  .addOption(appOption())
  .action(async (opts: { grace?: number }, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const app = await client.rotateAppSecret(appId, { previousSecretGraceSeconds: opts.grace });
      print(command, `Rotated the secret of ${describeApp(app)}`, jsonOf(AppSchema, app));
    });
  });

admin
  .command("create-users")
  .description("create (or update) users")
  .argument("<userIds...>", "user IDs, e.g. alice bob")
  .addOption(appOption())
  .action(async (userIds: string[], _opts: object, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const users = await client.importUsers(appId, userIds);
      print(command, `Created or updated ${users.length} users in ${appId}: ${users.map((u) => u.userId).join(", ")}`, {
        appId,
        users: users.map((u) => jsonOf(UserSchema, u)),
      });
    });
  });

paged(admin.command("users").description("list the app's users, by user ID"))
  .addOption(appOption())
  .action(async (opts: PagingFlags, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const page = await fetchList(opts, (p) => client.listUsers(appId, p));
      printPage(command, "users", page, formatUser, (u) => jsonOf(UserSchema, u));
    });
  });

admin
  .command("delete-user")
  .description("delete a user: memberships end, tokens stop working, sent messages stay")
  .argument("<userId>", "the user")
  .addOption(appOption())
  .action(async (userId: string, _opts: object, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      await client.deleteUser(appId, userId);
      print(command, `Deleted user ${userId} from ${appId}`, { appId, userId });
    });
  });

admin
  .command("token")
  .description("issue a user token (prints only the token, for $(...))")
  .requiredOption("--user <userId>", "the user")
  .option("--ttl <seconds>", "lifetime in seconds (default one day)", Number)
  .addOption(appOption())
  .action(async (opts: { user: string; ttl?: number }, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const token = await client.issueUserToken(appId, opts.user, opts.ttl ?? 0);
      print(command, token, { userId: opts.user, token });
    });
  });

admin
  .command("create-group")
  .description("create a group with an owner and members")
  .addOption(
    new Option("--type <type>", "group type")
      .choices(["work", "public", "meeting", "community", "avchatroom"])
      .makeOptionMandatory(),
  )
  .option("--owner <userId>", "the owner (none if absent)")
  .option("--members <ids>", "comma-separated member IDs", list)
  .option("--id <groupId>", "group ID (assigned by the server if absent)")
  .option("--name <name>", "display name")
  .addOption(appOption())
  .action(
    async (
      opts: { type: "work"; owner?: string; members?: string[]; id?: string; name?: string },
      command: Command,
    ) => {
      await withAdmin(command, async (client, appId) => {
        const group = await client.createGroup(appId, {
          type: opts.type,
          ownerId: opts.owner,
          memberIds: opts.members,
          groupId: opts.id,
          name: opts.name,
        });
        print(command, `Created group ${formatGroup(group)}`, jsonOf(GroupSchema, group));
      });
    },
  );

paged(admin.command("groups").description("list every group of the app, by group ID"))
  .addOption(appOption())
  .action(async (opts: PagingFlags, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const page = await fetchList(opts, (p) => client.listGroups(appId, p));
      printPage(command, "groups", page, formatGroup, (g) => jsonOf(GroupSchema, g));
    });
  });

paged(admin.command("members").description("list any group's members, by user ID"))
  .requiredOption("--group <groupId>", "the group")
  .addOption(appOption())
  .action(async (opts: PagingFlags & { group: string }, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const page = await fetchList(opts, (p) => client.listMembers(appId, opts.group, p));
      printPage(command, "members", page, formatMember, (m) => jsonOf(GroupMemberSchema, m));
    });
  });

admin
  .command("add-members")
  .description("add users to a group")
  .requiredOption("--group <groupId>", "the group")
  .requiredOption("--members <ids>", "comma-separated user IDs", list)
  .addOption(appOption())
  .action(async (opts: { group: string; members: string[] }, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      const members = await client.addMembers(appId, opts.group, opts.members);
      print(command, `Added ${members.map((m) => m.userId).join(", ")} to ${opts.group}`, {
        members: members.map((m) => jsonOf(GroupMemberSchema, m)),
      });
    });
  });

addWebhookCommands(admin, { withAdmin, print, appOption, paged, fetchList, printPage });

// ---- user commands -------------------------------------------------------------------

/** The content flags of `send` and `edit`: the text (words or --text), then a custom element. */
interface ContentFlags {
  text?: string;
  custom?: string;
}

function contentElements(words: string[], opts: ContentFlags): ElementInit[] {
  const elements: ElementInit[] = [];
  const text = opts.text ?? words.join(" ");
  if (text !== "") {
    elements.push({ text });
  }
  if (opts.custom !== undefined) {
    elements.push({ custom: { data: opts.custom } });
  }
  return elements;
}

program
  .command("send")
  .description("send a message; --to makes it a targeted message only those members see")
  .requiredOption("--group <groupId>", "the group")
  .argument("[words...]", "the text (or use --text)")
  .option("--text <text>", "text element")
  .option("--to <ids>", "receivers of a targeted message, comma-separated (at most 50)", list)
  .option("--receiver <userId>", "single-receiver form: a targeted message to this one member")
  .option("--custom <data>", "custom element with this data")
  .option("--at <ids>", "@-mention these users, comma-separated", list)
  .option("--at-all", "@-mention everyone")
  .addOption(new Option("--priority <priority>", "priority").choices(["default", "high", "normal", "low"]))
  .option("--online-only", "deliver only to members online now; not stored")
  .option("--exclude-unread", "do not count as unread")
  .option("--exclude-last", "do not make it the conversation's last message")
  .option("--count-unread", "targeted: count as unread for the receivers")
  .option("--receipts", "ask for read receipts: see who read it with `receipts`")
  .option("--client-id <id>", "idempotency key (default: a random UUID)")
  .action(
    async (
      words: string[],
      opts: {
        group: string;
        text?: string;
        to?: string[];
        receiver?: string;
        custom?: string;
        at?: string[];
        atAll?: boolean;
        priority?: "default" | "high" | "normal" | "low";
        onlineOnly?: boolean;
        excludeUnread?: boolean;
        excludeLast?: boolean;
        countUnread?: boolean;
        receipts?: boolean;
        clientId?: string;
      },
      command: Command,
    ) => {
      const draft = createMessage(contentElements(words, opts), {
        receiverList: opts.to,
        atUserList: [...(opts.at ?? []), ...(opts.atAll ? [AT_ALL] : [])],
      });
      await withUser(command, async (client) => {
        const message = await client.sendMessage(draft, {
          groupId: opts.group,
          receiver: opts.receiver,
          priority: opts.priority,
          onlineUserOnly: opts.onlineOnly,
          excludeFromUnread: opts.excludeUnread,
          excludeFromLastMessage: opts.excludeLast,
          countAsUnreadForReceivers: opts.countUnread,
          requestReadReceipts: opts.receipts,
          clientMessageId: opts.clientId,
        });
        print(command, `Sent ${formatMessage(message)}`, jsonOf(MessageSchema, message));
      });
    },
  );

program
  .command("reply")
  .description("reply to a message, quoting it; a reply to a targeted message needs --to or --receiver within its audience")
  .requiredOption("--group <groupId>", "the group")
  .requiredOption("--message <messageId>", "the ID of the message replied to")
  .argument("[words...]", "the text (or use --text)")
  .option("--text <text>", "text element")
  .option("--to <ids>", "receivers of a targeted reply, comma-separated (at most 50)", list)
  .option("--receiver <userId>", "single-receiver form: a targeted reply to this one member")
  .option("--custom <data>", "custom element with this data")
  .option("--receipts", "ask for read receipts: see who read it with `receipts`")
  .option("--client-id <id>", "idempotency key (default: a random UUID)")
  .action(
    async (
      words: string[],
      opts: ContentFlags & { group: string; message: string; to?: string[]; receiver?: string; receipts?: boolean; clientId?: string },
      command: Command,
    ) => {
      const draft = createMessage(contentElements(words, opts), { receiverList: opts.to });
      await withUser(command, async (client) => {
        const message = await client.reply(opts.group, opts.message, draft, {
          receiver: opts.receiver,
          requestReadReceipts: opts.receipts,
          clientMessageId: opts.clientId,
        });
        print(command, `Replied ${formatMessage(message)}`, jsonOf(MessageSchema, message));
      });
    },
  );

program
  .command("tail")
  .description("print live events, one line each, until Ctrl-C")
  .option("--cursor <cursor>", "first replay every event after this cursor")
  .option("--heartbeat <seconds>", "heartbeat interval asked of the server", Number)
  .action(async (opts: { cursor?: string; heartbeat?: number }, command: Command) => {
    const g = globals(command);
    if (!g.token) {
      throw new UsageError("tail needs --token or NARROWCAST_TOKEN (see: narrowcast admin token)");
    }
    const client = createClient({ ...connection(g), token: g.token, cursor: opts.cursor, heartbeatSeconds: opts.heartbeat });
    const stop = () => void client.close();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    let announced = false;
    try {
      for await (const event of client.events()) {
        if (event.type === "reconnecting") {
          process.stderr.write(formatEvent(event) + "\n");
          continue;
        }
        if (g.json) {
          const json =
            event.type === "ready" || event.type === "resync"
              ? { type: event.type, cursor: event.cursor }
              : { type: event.type, ...(toJson(EventSchema, event.event) as object) };
          process.stdout.write(JSON.stringify(json) + "\n");
        } else if (event.type === "ready") {
          if (!announced) {
            process.stderr.write("Listening for events (Ctrl-C to stop).\n");
            announced = true;
          }
        } else if (event.type === "resync") {
          process.stderr.write(formatEvent(event) + "\n");
        } else {
          process.stdout.write(formatEvent(event) + "\n");
        }
      }
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      await client.close();
    }
  });

paged(
  program
    .command("history")
    .description("print a page of a group's history you may see (latest first page; ascending within it)")
    .requiredOption("--group <groupId>", "the group")
    .option("--before <seq>", "start below this seq and walk back", Number)
    .option("--after <seq>", "start above this seq and walk forward", Number),
).action(async (opts: PagingFlags & { group: string; before?: number; after?: number }, command: Command) => {
  await withUser(command, async (client) => {
    const page = await fetchList(opts, (p) =>
      client.listMessages(opts.group, { ...p, beforeSeq: opts.before, afterSeq: opts.after }),
    );
    // With --all a backward walk comes newest page first; print the whole history ascending.
    page.items.sort((a, b) => a.seq - b.seq);
    printPage(command, "messages", page, formatMessage, (m) => jsonOf(MessageSchema, m));
  });
});

paged(program.command("conversations").description("list your conversations: unread count, last message, mentions")).action(
  async (opts: PagingFlags, command: Command) => {
    await withUser(command, async (client) => {
      const page = await fetchList(opts, (p) => client.listConversations(p));
      printPage(command, "conversations", page, formatConversation, (c) => jsonOf(ConversationSchema, c));
    });
  },
);

paged(program.command("groups").description("list the groups you are in, by group ID")).action(
  async (opts: PagingFlags, command: Command) => {
    await withUser(command, async (client) => {
      const page = await fetchList(opts, (p) => client.listGroups(p));
      printPage(command, "groups", page, formatGroup, (g) => jsonOf(GroupSchema, g));
    });
  },
);

paged(program.command("members").description("list a group's members, by user ID"))
  .requiredOption("--group <groupId>", "the group")
  .action(async (opts: PagingFlags & { group: string }, command: Command) => {
    await withUser(command, async (client) => {
      const page = await fetchList(opts, (p) => client.listMembers(opts.group, p));
      printPage(command, "members", page, formatMember, (m) => jsonOf(GroupMemberSchema, m));
    });
  });

program
  .command("join")
  .description("join a group: at once (meeting, community, avchatroom) or by request (public)")
  .requiredOption("--group <groupId>", "the group")
  .option("--message <text>", "a note for the approvers of a public group")
  .action(async (opts: { group: string; message?: string }, command: Command) => {
    await withUser(command, async (client) => {
      const result = await client.joinGroup(opts.group, opts.message);
      if (result.member) {
        print(command, `Joined ${opts.group} as ${formatMember(result.member)}`, {
          member: jsonOf(GroupMemberSchema, result.member),
        });
      } else {
        print(command, `Asked to join: ${formatJoinRequest(result.joinRequest)}`, {
          joinRequest: jsonOf(JoinRequestSchema, result.joinRequest),
        });
      }
    });
  });

program
  .command("read")
  .description(
    "mark a conversation read (up to the latest message by default), or with --message send read receipts for messages (the read position stays)",
  )
  .requiredOption("--group <groupId>", "the group")
  .option("--seq <seq>", "read up to this seq", Number)
  .option("--message <ids>", "acknowledge these messages as read for their senders' receipts; repeat or comma-separate (at most 100)", list)
  .action(async (opts: { group: string; seq?: number; message?: string[] }, command: Command) => {
    // Receipts and the read position are unrelated (rule RCP-6): one command does one or the other.
    if (opts.message !== undefined && opts.seq !== undefined) {
      throw new UsageError("read: give --seq (mark the conversation read) or --message (send read receipts), not both");
    }
    await withUser(command, async (client) => {
      if (opts.message !== undefined) {
        const ids = [...new Set(opts.message)];
        await client.sendReadReceipts(opts.group, ids);
        print(command, `Acknowledged ${ids.length} message${ids.length === 1 ? "" : "s"} of ${opts.group} as read`, {
          groupId: opts.group,
          messageIds: ids,
        });
        return;
      }
      const conversation = await client.markConversationRead(opts.group, opts.seq);
      print(command, formatConversation(conversation), jsonOf(ConversationSchema, conversation));
    });
  });

program
  .command("recall")
  .description("recall a message")
  .requiredOption("--group <groupId>", "the group")
  .requiredOption("--message <messageId>", "the message ID")
  .action(async (opts: { group: string; message: string }, command: Command) => {
    await withUser(command, async (client) => {
      const message = await client.recallMessage(opts.group, opts.message);
      print(command, `Recalled ${formatMessage(message)}`, jsonOf(MessageSchema, message));
    });
  });

program
  .command("edit")
  .description("edit a message you sent: replace its text / custom element (receivers and mentions stay)")
  .requiredOption("--group <groupId>", "the group")
  .requiredOption("--message <messageId>", "the message ID")
  .argument("[words...]", "the new text (or use --text)")
  .option("--text <text>", "text element")
  .option("--custom <data>", "custom element with this data")
  .action(async (words: string[], opts: ContentFlags & { group: string; message: string }, command: Command) => {
    await withUser(command, async (client) => {
      const message = await client.editMessage(opts.group, opts.message, { elements: contentElements(words, opts) });
      print(command, `Edited ${formatMessage(message)}`, jsonOf(MessageSchema, message));
    });
  });

program
  .command("react")
  .description("add your reaction (an emoji or a code such as :+1:) to a message you can see, or --remove it")
  .requiredOption("--group <groupId>", "the group")
  .requiredOption("--message <messageId>", "the message ID")
  .argument("<reaction>", "the reaction, 1 to 32 characters (after -- if it starts with -)")
  .option("--remove", "remove your reaction instead")
  .action(async (reaction: string, opts: { group: string; message: string; remove?: boolean }, command: Command) => {
    await withUser(command, async (client) => {
      const message = opts.remove
        ? await client.removeReaction(opts.group, opts.message, reaction)
        : await client.addReaction(opts.group, opts.message, reaction);
      const done = opts.remove ? `Removed ${reaction} from` : `Reacted ${reaction} to`;
      print(command, `${done} ${formatMessage(message)}`, jsonOf(MessageSchema, message));
    });
  });

paged(program.command("reactions").description("list who reacted to a message with what, oldest first"))
  .requiredOption("--group <groupId>", "the group")
  .requiredOption("--message <messageId>", "the message ID")
  .option("--reaction <reaction>", "only this reaction")
  .action(async (opts: PagingFlags & { group: string; message: string; reaction?: string }, command: Command) => {
    await withUser(command, async (client) => {
      const page = await fetchList(opts, (p) => client.listReactions(opts.group, opts.message, { ...p, reaction: opts.reaction }));
      printPage(command, "reactions", page, formatReaction, (r) => jsonOf(ReactionSchema, r));
    });
  });

paged(program.command("receipts").description("list who has read a message you sent with --receipts (or, --unread, who has not), by user ID"))
  .requiredOption("--group <groupId>", "the group")
  .requiredOption("--message <messageId>", "the message ID")
  .option("--unread", "the readers who have not read it")
  .action(async (opts: PagingFlags & { group: string; message: string; unread?: boolean }, command: Command) => {
    await withUser(command, async (client) => {
      const state = opts.unread ? "unread" : "read";
      // Every page carries the counts; print those of the last one fetched.
      let counts: ReadReceiptCounts = { readCount: 0, unreadCount: 0 };
      const page = await fetchList(opts, async (p) => {
        const fetched = await client.listReadReceipts(opts.group, opts.message, { ...p, state });
        counts = fetched.counts;
        return fetched;
      });
      const more = page.nextPageToken ? `\n(more: --page-token ${page.nextPageToken}, or --all)` : "";
      const lines = page.items.map(formatReadReceipt).join("\n") || "(none)";
      print(command, `${formatReceiptCounts(counts)}\n${lines}${more}`, {
        receipts: page.items.map((r) => jsonOf(ReadReceiptSchema, r)),
        nextPageToken: page.nextPageToken,
        counts: jsonOf(ReadReceiptCountsSchema, counts),
      });
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const json = program.opts().json === true;
  if (e instanceof UsageError) {
    process.stderr.write(`narrowcast: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    const error = NarrowcastError.from(e);
    process.stderr.write((json ? JSON.stringify(errorJson(error)) : `narrowcast: ${formatError(error)}`) + "\n");
    process.exitCode = 1;
  }
}
