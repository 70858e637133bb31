// The wire clients of a run: per user, node and protocol (Connect, gRPC, gRPC-Web), created once
// and reused; the generated clients of @narrowcast/gen over @connectrpc/connect-node.
import { ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ConversationService, ErrorInfoSchema, EventService, GroupService, MessageService } from "@narrowcast/gen";
import { AdminService } from "@narrowcast/gen/admin";
import type { RunningServer } from "@narrowcast/server";

export type Protocol = "connect" | "grpc" | "grpc-web";
export const PROTOCOLS: readonly Protocol[] = ["connect", "grpc", "grpc-web"];

export interface UserApi {
  groups: Client<typeof GroupService>;
  messages: Client<typeof MessageService>;
  conversations: Client<typeof ConversationService>;
  events: Client<typeof EventService>;
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
}

export class Clients {
  private readonly sessions: Http2SessionManager[];
  private readonly users = new Map<string, UserApi>();
  private readonly admins = new Map<string, Client<typeof AdminService>>();
  readonly tokens = new Map<string, string>();

  constructor(
    readonly nodes: RunningServer[],
    readonly adminKey: string,
  ) {
    this.sessions = nodes.map((n) => new Http2SessionManager(n.url));
  }

  private transport(node: number, protocol: Protocol, token: string): Transport {
    const common = { baseUrl: this.nodes[node]!.url, httpVersion: "2" as const, interceptors: [bearer(token)], sessionManager: this.sessions[node]! };
    switch (protocol) {
      case "connect":
        return createConnectTransport(common);
      case "grpc":
        return createGrpcTransport(common);
      case "grpc-web":
        return createGrpcWebTransport(common);
    }
  }

  admin(node: number, protocol: Protocol): Client<typeof AdminService> {
    const k = `${node}/${protocol}`;
    let c = this.admins.get(k);
    if (!c) this.admins.set(k, (c = createClient(AdminService, this.transport(node, protocol, this.adminKey))));
    return c;
  }

  user(user: string, node: number, protocol: Protocol): UserApi {
    const k = `${user}/${node}/${protocol}`;
    let c = this.users.get(k);
    if (!c) {
      const t = this.transport(node, protocol, this.tokens.get(user)!);
      c = { groups: createClient(GroupService, t), messages: createClient(MessageService, t), conversations: createClient(ConversationService, t), events: createClient(EventService, t) };
      this.users.set(k, c);
    }
    return c;
  }

  close(): void {
    for (const s of this.sessions) s.abort();
  }
}

/** The outcome of a call: the response, or the error's narrowcast reason. */
export type Result<T> = { ok: true; value: T } | { ok: false; reason: string; message: string; field: string; ids: string[] };

export async function attempt<T>(call: () => Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    const ce = ConnectError.from(err);
    const info = ce.findDetails(ErrorInfoSchema)[0];
    const ids = info?.metadata.ids ?? "";
    return { ok: false, reason: info?.reason ?? `code:${ce.code}`, message: ce.message, field: info?.metadata.field ?? "", ids: ids ? ids.split(",") : [] };
  }
}
