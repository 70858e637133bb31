// Shared fixtures of the client tests: a real server on port 0, a fresh app per test with
// its users and group, and a recorder that waits for events without timing assumptions.
import { expect } from "vitest";
import { startServer } from "@narrowcast/server";
import type { RunningServer, ServerOptions } from "@narrowcast/server";
import { NarrowcastError, createAdminClient, createClient } from "../src/index.js";
import type {
  ClientEvent,
  ClientOptions,
  GroupTypeInit,
  Message,
  NarrowcastAdminClient,
  NarrowcastClient,
} from "../src/index.js";

export interface Fixture {
  server: RunningServer;
  admin: NarrowcastAdminClient;
  /** Creates an app with these users and one group owned by the first user, all members. */
  app(init: {
    users: string[];
    plan?: "standard" | "ultimate";
    groupType?: GroupTypeInit;
  }): Promise<TestApp>;
  close(): Promise<void>;
}

export interface TestApp {
  appId: string;
  groupId: string;
  token(userId: string): Promise<string>;
  /** A client of this user (closed by fixture.close()). */
  client(userId: string, options?: Partial<ClientOptions>): Promise<NarrowcastClient>;
}

/** Starts a server without rate limit (tests send in bursts) and an admin client. */
export async function startFixture(options: ServerOptions = {}): Promise<Fixture> {
  const server = await startServer({ port: 0, rateLimitPerSecond: 1_000_000, ...options });
  const admin = createAdminClient({ baseUrl: server.url, adminKey: server.adminKey });
  const clients: NarrowcastClient[] = [];
  let groups = 0;
  return {
    server,
    admin,
    async app({ users, plan = "ultimate", groupType = "work" }) {
      const app = await admin.createApp({ name: "client-test", plan });
      await admin.importUsers(app.appId, users);
      const group = await admin.createGroup(app.appId, {
        type: groupType,
        groupId: `g${++groups}`,
        ownerId: users[0],
        memberIds: users.slice(1),
      });
      const token = (userId: string) => admin.issueUserToken(app.appId, userId);
      return {
        appId: app.appId,
        groupId: group.groupId,
        token,
        async client(userId, clientOptions = {}) {
          const client = createClient({ baseUrl: server.url, token: await token(userId), ...clientOptions });
          clients.push(client);
          return client;
        },
      };
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await admin.close();
      await server.close();
    },
  };
}

/** Records a client's events and lets a test wait for one that matches. */
export class Recorder {
  readonly events: ClientEvent[] = [];
  private waiters: { match: (e: ClientEvent) => boolean; resolve: (e: ClientEvent) => void }[] = [];

  constructor(client: NarrowcastClient) {
    const types = [
      "messageReceived",
      "messageRecalled",
      "messageEdited",
      "reactionChanged",
      "messageRead",
      "conversationChanged",
      "memberJoined",
      "memberLeft",
      "groupDismissed",
      "ready",
      "resync",
    ] as const;
    for (const type of types) {
      client.on(type, (event) => this.push(event));
    }
  }

  /** Text of every received message, in order. */
  texts(): string[] {
    return this.messages().map(textOf);
  }

  messages(): Message[] {
    return this.events.flatMap((e) => (e.type === "messageReceived" ? [e.message] : []));
  }

  /** Resolves with the first recorded event (past or future) that matches. */
  until(match: (e: ClientEvent) => boolean): Promise<ClientEvent> {
    const found = this.events.find(match);
    if (found) {
      return Promise.resolve(found);
    }
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Resolves once a message with this text has been received. */
  untilText(text: string): Promise<ClientEvent> {
    return this.until((e) => e.type === "messageReceived" && textOf(e.message) === text);
  }

  private push(event: ClientEvent): void {
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => {
      if (w.match(event)) {
        w.resolve(event);
        return false;
      }
      return true;
    });
  }
}

/** The text of a message's first element, "" if it is not text. */
export function textOf(message: Message): string {
  const element = message.elements[0]?.element;
  return element?.case === "text" ? element.value.text : "";
}

/** Calls `fn` and returns what it threw (fails the test if it did not throw). */
export async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

/** What a client sees of an error: its status, ErrorInfo and field violations (ERR-1). */
export function errorSummary(e: unknown) {
  expect(e).toBeInstanceOf(NarrowcastError);
  const err = e as NarrowcastError;
  return {
    code: err.code,
    reason: err.reason,
    domain: err.domain,
    field: err.field,
    ids: [...err.ids],
    // The description is free text; field and reason are the contract (ERR-1).
    violations: err.fieldViolations.map(({ field, reason }) => ({ field, reason })),
  };
}
