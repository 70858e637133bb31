// Shared set-up of the examples: a fresh app on the ULTIMATE plan (targeted messages need it, rule TGT-9),
// its users, one WORK group, and a logged-in client per user, all through the admin API.
import { pathToFileURL } from "node:url";
import { createAdminClient, createClient } from "@narrowcast/client";
import type { Message, NarrowcastClient, Protocol } from "@narrowcast/client";

export interface ExampleOptions {
  /** Server URL; default env NARROWCAST_URL or http://127.0.0.1:8080 (`npm start`). */
  baseUrl?: string;
  /** Admin key; default env NARROWCAST_ADMIN_KEY. */
  adminKey?: string;
  protocol?: Protocol;
  /** Where the example prints; default console.log. */
  log?: (line: string) => void;
}

export interface Demo {
  groupId: string;
  /** A connected client per user, with every text message it received so far. */
  users: Record<string, { client: NarrowcastClient; received: string[] }>;
  /** Sends an ordinary message from `from` and waits until every user has it. Events of a
   * group arrive in order (rule EVT-8), so afterwards each user has everything sent before. */
  everyoneHas(from: string, text: string): Promise<void>;
  close(): Promise<void>;
}

export async function startDemo(options: ExampleOptions, userIds: string[], groupId: string): Promise<Demo> {
  const baseUrl = options.baseUrl ?? process.env.NARROWCAST_URL ?? "http://127.0.0.1:8080";
  const adminKey = options.adminKey ?? process.env.NARROWCAST_ADMIN_KEY;
  if (!adminKey) {
    throw new Error("set NARROWCAST_ADMIN_KEY (npm start prints where to find the admin key)");
  }
  const admin = createAdminClient({ baseUrl, adminKey, protocol: options.protocol });
  const app = await admin.createApp({ name: "example", plan: "ultimate" });
  await admin.importUsers(app.appId, userIds);
  await admin.createGroup(app.appId, { type: "work", groupId, ownerId: userIds[0], memberIds: userIds.slice(1) });

  const users: Demo["users"] = {};
  const waiters: { user: string; text: string; resolve: () => void }[] = [];
  for (const userId of userIds) {
    const token = await admin.issueUserToken(app.appId, userId);
    const client = createClient({ baseUrl, token, protocol: options.protocol });
    const received: string[] = [];
    client.on("messageReceived", (event) => {
      const text = textOf(event.message);
      received.push(text);
      for (const w of waiters.filter((w) => w.user === userId && w.text === text)) {
        w.resolve();
      }
    });
    users[userId] = { client, received };
  }
  await Promise.all(Object.values(users).map((u) => u.client.connect()));

  return {
    groupId,
    users,
    async everyoneHas(from, text) {
      const arrived = userIds.map(
        (user) => new Promise<void>((resolve) => waiters.push({ user, text, resolve })),
      );
      await users[from].client.sendMessage(users[from].client.createTextMessage(text), { groupId });
      await Promise.all(arrived);
    },
    async close() {
      await Promise.all(Object.values(users).map((u) => u.client.close()));
      await admin.close();
    },
  };
}

/** Runs `main` when the file is executed directly (`npx tsx examples/<file>.ts`). */
export function runIfMain(url: string, main: (options: ExampleOptions) => Promise<unknown>): void {
  if (process.argv[1] && url === pathToFileURL(process.argv[1]).href) {
    main({}).catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
  }
}

/** The text of a message's first element. */
export function textOf(message: Message): string {
  const element = message.elements[0]?.element;
  return element?.case === "text" ? element.value.text : "";
}
