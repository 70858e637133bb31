// The `narrowcast` command: try the whole protocol from a terminal. Readable output by
// default, `--json` (one JSON value per line) for scripts. Run through bin/narrowcast.js.
import { toJson } from "@bufbuild/protobuf";
import {
  AppSchema,
  ConversationSchema,
  EventSchema,
  GroupMemberSchema,
  GroupSchema,
  MessageSchema,
} from "@narrowcast/gen";
import { Command, Option } from "commander";
import { AT_ALL, createMessage } from "./builders.js";
import type { ElementInit } from "./builders.js";
import { errorJson, formatConversation, formatError, formatEvent, formatGroup, formatMessage } from "./cli/format.js";
import { NarrowcastError } from "./errors.js";
import { editionName } from "./names.js";
import { createAdminClient, createClient } from "./index.js";
import type { NarrowcastAdminClient, NarrowcastClient, Protocol } from "./index.js";

interface GlobalOptions {
  url: string;
  protocol: Protocol;
  httpVersion: "1.1" | "2";
  json?: boolean;
  adminKey?: string;
  token?: string;
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

// ---- admin ---------------------------------------------------------------------------

const admin = program.command("admin").description("app backend commands (need the admin key)");

admin
  .command("create-app")
  .description("create an app (tenant); targeted messages need --edition ultimate")
  .option("--name <name>", "display name", "narrowcast-cli")
  .addOption(new Option("--edition <edition>", "edition").choices(["standard", "ultimate"]))
  .action(async (opts: { name: string; edition?: "standard" | "ultimate" }, command: Command) => {
    await withAdmin(command, async (client) => {
      const app = await client.createApp({ name: opts.name, edition: opts.edition });
      print(
        command,
        `Created app ${app.appId} (edition ${editionName(app.edition)}).\n` +
          `  secret: ${app.secret}\n` +
          `Use it in the next commands with: export NARROWCAST_APP=${app.appId}`,
        toJson(AppSchema, app),
      );
    });
  });

admin
  .command("create-users")
  .description("create (or update) users")
  .argument("<userIds...>", "user IDs, e.g. alice bob")
  .addOption(appOption())
  .action(async (userIds: string[], _opts: object, command: Command) => {
    await withAdmin(command, async (client, appId) => {
      await client.importUsers(appId, userIds);
      print(command, `Created or updated ${userIds.length} users in ${appId}: ${userIds.join(", ")}`, { appId, userIds });
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
        print(command, `Created group ${formatGroup(group)}`, toJson(GroupSchema, group));
      });
    },
  );

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
        members: members.map((m) => toJson(GroupMemberSchema, m)),
      });
    });
  });

// ---- user commands -------------------------------------------------------------------

program
  .command("send")
  .description("send a message; --to makes it a targeted message only those members see")
  .requiredOption("--group <groupId>", "the group")
  .argument("[words...]", "the text (or use --text)")
  .option("--text <text>", "text element")
  .option("--to <ids>", "receivers of a targeted message, comma-separated (at most 50)", list)
  .option("--receiver <userId>", "single-receiver form (receiver_id)")
  .option("--custom <data>", "custom element with this data")
  .option("--at <ids>", "@-mention these users, comma-separated", list)
  .option("--at-all", "@-mention everyone")
  .addOption(new Option("--priority <priority>", "priority").choices(["default", "high", "normal", "low"]))
  .option("--online-only", "deliver only to members online now; not stored")
  .option("--exclude-unread", "do not count as unread")
  .option("--exclude-last", "do not make it the conversation's last message")
  .option("--count-unread", "targeted: count as unread for the receivers")
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
        clientId?: string;
      },
      command: Command,
    ) => {
      const elements: ElementInit[] = [];
      const text = opts.text ?? words.join(" ");
      if (text !== "") {
        elements.push({ text });
      }
      if (opts.custom !== undefined) {
        elements.push({ custom: { data: opts.custom } });
      }
      const draft = createMessage(elements, {
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
          clientMessageId: opts.clientId,
        });
        print(command, `Sent ${formatMessage(message)}`, toJson(MessageSchema, message));
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
            event.type === "ready" ? { type: "ready", cursor: event.cursor } : { type: event.type, ...(toJson(EventSchema, event.event) as object) };
          process.stdout.write(JSON.stringify(json) + "\n");
        } else if (event.type === "ready") {
          if (!announced) {
            process.stderr.write("Listening for events (Ctrl-C to stop).\n");
            announced = true;
          }
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

program
  .command("history")
  .description("print a page of a group's history you may see")
  .requiredOption("--group <groupId>", "the group")
  .option("--limit <n>", "messages per page, 1-100", Number)
  .option("--before <seq>", "only messages below this seq", Number)
  .option("--after <seq>", "only messages above this seq", Number)
  .action(async (opts: { group: string; limit?: number; before?: number; after?: number }, command: Command) => {
    await withUser(command, async (client) => {
      const page = await client.getHistory(opts.group, { limit: opts.limit, beforeSeq: opts.before, afterSeq: opts.after });
      print(command, page.messages.map(formatMessage).join("\n") || "(no messages)", {
        messages: page.messages.map((m) => toJson(MessageSchema, m)),
        hasMore: page.hasMore,
      });
    });
  });

program
  .command("conversations")
  .description("list your conversations: unread count, last message, mentions")
  .action(async (_opts: object, command: Command) => {
    await withUser(command, async (client) => {
      const conversations = await client.listConversations();
      print(command, conversations.map(formatConversation).join("\n") || "(no conversations)", {
        conversations: conversations.map((c) => toJson(ConversationSchema, c)),
      });
    });
  });

program
  .command("read")
  .description("mark a conversation read (up to the latest message by default)")
  .requiredOption("--group <groupId>", "the group")
  .option("--seq <seq>", "read up to this seq", Number)
  .action(async (opts: { group: string; seq?: number }, command: Command) => {
    await withUser(command, async (client) => {
      const conversation = await client.markConversationRead(opts.group, opts.seq);
      print(command, formatConversation(conversation), toJson(ConversationSchema, conversation));
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
      print(command, `Recalled ${formatMessage(message)}`, toJson(MessageSchema, message));
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
