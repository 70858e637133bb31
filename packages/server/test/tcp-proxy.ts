// A TCP proxy the tests cut and restore, to make a service (PostgreSQL, NATS) unreachable for a
// server under test without touching the machine's service.
import net from "node:net";

const DEFAULT_PORTS: Record<string, number> = { "postgres:": 5432, "postgresql:": 5432, "nats:": 4222 };

/** A TCP proxy to `target` (a URL with host and port) that can be cut and restored. */
export class CuttableProxy {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  constructor(private readonly target: string) {}

  private readonly server = net.createServer((client) => {
    if (this.cut) {
      client.destroy();
      return;
    }
    const target = new URL(this.target);
    const upstream = net.connect(Number(target.port || DEFAULT_PORTS[target.protocol]), target.hostname);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });

  /** Listens on a free port of 127.0.0.1; resolves with it. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Closes every open connection and refuses new ones. */
  down(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  up(): void {
    this.cut = false;
  }

  close(): Promise<void> {
    this.down();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
