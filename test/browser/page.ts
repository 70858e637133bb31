// The script of the test page (bundled by esbuild for the browser): @narrowcast/client/web
// clients driven by the test through window.narrowcast. Every call returns plain data (or an
// error's text) so that page.evaluate can carry it back.
import { createClient, type NarrowcastClient } from "@narrowcast/client/web";

interface Received {
  text: string;
  receiverIds: string[];
}

interface User {
  client: NarrowcastClient;
  received: Received[];
  waiters: (() => void)[];
}

const users = new Map<string, User>();

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function user(name: string): User {
  const u = users.get(name);
  if (!u) throw new Error(`no user ${name} on this page`);
  return u;
}

const api = {
  /**
   * Creates the user's client and opens its event stream (Subscribe); resolves once it is live,
   * or with the error's text when the stream fails.
   */
  async connect(name: string, baseUrl: string, token: string, protocol: "connect" | "grpc-web"): Promise<string | undefined> {
    const client = createClient({ baseUrl, token, protocol, retry: false });
    const u: User = { client, received: [], waiters: [] };
    users.set(name, u);
    client.on("messageReceived", (event) => {
      const element = event.message.elements[0]?.element;
      u.received.push({ text: element?.case === "text" ? element.value.text : "", receiverIds: [...event.message.receiverIds] });
      for (const w of u.waiters.splice(0)) w();
    });
    // A refused stream does not fail connect(): the client retries. Its first retry says why.
    const refused = new Promise<string>((resolve) => {
      client.on("reconnecting", (event) => resolve(describe(event.error)));
      client.on("error", (event) => resolve(describe(event.error)));
    });
    return Promise.race([client.connect().then(() => undefined, describe), refused]);
  },

  /** Sends a text message (to `receiver` only, when given); resolves with the error's text, if any. */
  async send(name: string, groupId: string, text: string, receiver?: string): Promise<string | undefined> {
    const { client } = user(name);
    try {
      await client.sendMessage(client.createTextMessage(text), { groupId, receiver, retry: false });
      return undefined;
    } catch (err) {
      return describe(err);
    }
  },

  /** Every message received, once one with text `text` arrived (or after `ms` without it). */
  async receivedUntil(name: string, text: string, ms: number): Promise<Received[]> {
    const u = user(name);
    const deadline = Date.now() + ms;
    while (!u.received.some((r) => r.text === text) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        u.waiters.push(resolve);
        setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
    }
    return u.received;
  },

  async closeAll(): Promise<void> {
    await Promise.all([...users.values()].map((u) => u.client.close()));
    users.clear();
  },
};

(globalThis as unknown as { narrowcast: typeof api }).narrowcast = api;
export type PageApi = typeof api;
