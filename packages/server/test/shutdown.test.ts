// Graceful shutdown under load (issue 12): the server binary runs as a child process on a temporary
// SQLite directory; 64 senders keep sends in flight over HTTP/2 and HTTP/1.1 while it gets SIGTERM.
// A restarted server on the same directory then shows that every stored message was acknowledged
// to its client, and that every client error was Unavailable (or a rate-limit rejection or a
// refused HTTP/2 stream, neither of them stored).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { GroupType, MessageService } from "@narrowcast/gen";
import { AdminService, Plan } from "@narrowcast/gen/admin";
import { bearer, text } from "./support.js";
import { startChildServer } from "./child-server.js";

const ADMIN_KEY = "shutdown-test-admin-key";
const startChild = (dataDir: string) => startChildServer(dataDir, ADMIN_KEY);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("graceful shutdown (issue 12)", () => {
  it("SIGTERM under load: every stored message was acknowledged; clients saw only Unavailable", { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "nc-shutdown-"));
    dirs.push(dataDir);
    const first = await startChild(dataDir);
    const sessions: Http2SessionManager[] = [];
    let second: Awaited<ReturnType<typeof startChild>> | undefined;
    try {
      const admin = createClient(AdminService, createConnectTransport({ baseUrl: first.url, httpVersion: "1.1", interceptors: [bearer(ADMIN_KEY)] }));
      const { app } = await admin.createApp({ name: "shutdown", plan: Plan.ULTIMATE });
      const appId = app!.appId;
      await admin.importUsers({ appId, users: [{ userId: "alice" }] });
      const { token } = await admin.issueUserToken({ appId, userId: "alice" });
      const WORKERS = 64;
      // One group per sender keeps each under the per-group rate limit most of the time.
      const groups = await Promise.all(
        Array.from({ length: WORKERS }, async (_, i) => (await admin.createGroup({ appId, type: GroupType.WORK, groupId: `g${i}`, ownerId: "alice" })).group!.groupId),
      );

      // Four kinds of client: Connect and gRPC over HTTP/2, Connect and gRPC-Web over HTTP/1.1.
      const transports: Transport[] = [];
      const h2 = () => {
        const s = new Http2SessionManager(first.url);
        sessions.push(s);
        return s;
      };
      const interceptors = [bearer(token)];
      transports.push(createConnectTransport({ baseUrl: first.url, httpVersion: "2", sessionManager: h2(), interceptors }));
      transports.push(createGrpcTransport({ baseUrl: first.url, sessionManager: h2(), interceptors }));
      transports.push(createConnectTransport({ baseUrl: first.url, httpVersion: "1.1", interceptors }));
      transports.push(createGrpcWebTransport({ baseUrl: first.url, httpVersion: "1.1", interceptors }));

      const acked = new Set<string>();
      const failed = new Map<string, ConnectError>();
      let stop = false;
      const worker = async (w: number) => {
        const client = createClient(MessageService, transports[w % transports.length]);
        for (let i = 0; !stop; i++) {
          const body = `w${w}-${i}`;
          try {
            await client.sendMessage({ groupId: groups[w], clientMessageId: body, elements: [text(body)] });
            acked.add(body);
          } catch (err) {
            const ce = ConnectError.from(err);
            failed.set(body, ce);
            if (ce.code === Code.ResourceExhausted) await new Promise((r) => setTimeout(r, 25));
            else if (ce.code === Code.Unavailable) await new Promise((r) => setTimeout(r, 5));
          }
        }
      };
      const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
      // Under load: wait for some acknowledged sends, then SIGTERM with sends in flight.
      while (acked.size < 300) await new Promise((r) => setTimeout(r, 10));
      first.child.kill("SIGTERM");
      expect(await first.exited).toBe(0);
      // Keep sending a little: those sends meet a closed port.
      await new Promise((r) => setTimeout(r, 200));
      stop = true;
      await Promise.all(workers);

      second = await startChild(dataDir);
      const reader = createClient(MessageService, createConnectTransport({ baseUrl: second.url, httpVersion: "1.1", interceptors }));
      const stored = new Set<string>();
      for (const groupId of groups) {
        let pageToken = "";
        do {
          const res = await reader.listMessages({ groupId, pageSize: 100, pageToken });
          for (const m of res.messages) {
            const el = m.elements[0]?.element;
            if (el?.case === "text") stored.add(el.value.text);
          }
          pageToken = res.nextPageToken;
        } while (pageToken);
      }

      const storedNotAcked = [...stored].filter((b) => !acked.has(b));
      const ackedNotStored = [...acked].filter((b) => !stored.has(b));
      // A stream refused by GOAWAY was not processed (RFC 9113 §8.7), like a refused connection;
      // connect-es reports it as Internal. The server's two-step GOAWAY makes it rare, not impossible.
      const refused = (e: ConnectError) => /REFUSED_STREAM/.test(e.rawMessage);
      const badErrors = [...failed].filter(([, e]) => e.code !== Code.Unavailable && e.code !== Code.ResourceExhausted && !refused(e));
      expect(storedNotAcked, "stored messages whose client saw an error").toEqual([]);
      expect(ackedNotStored, "acknowledged messages that were not stored").toEqual([]);
      expect(badErrors.map(([b, e]) => `${b}: ${Code[e.code]} ${e.rawMessage}`)).toEqual([]);
      // The shutdown happened under load: some sends were refused with Unavailable.
      expect([...failed.values()].some((e) => e.code === Code.Unavailable)).toBe(true);
    } finally {
      for (const s of sessions) s.abort();
      first.child.kill("SIGKILL");
      second?.child.kill("SIGTERM");
      if (second) await second.exited;
    }
  });
});
