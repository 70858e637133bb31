// A TCP proxy in front of the server that a test controls: it can cut every connection
// going through it (the client sees a dead connection, as with a network failure) and hold
// new connections back for a while (so that events pile up while a client is away).
import net from "node:net";

export class ChaosProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private held: net.Socket[] = [];
  private blocked = false;
  /** Connections accepted so far. */
  connections = 0;

  private constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      this.connections++;
      this.track(client);
      if (this.blocked) {
        client.pause();
        this.held.push(client);
      } else {
        this.forward(client);
      }
    });
  }

  /** Starts a proxy on an ephemeral port in front of `targetUrl`. */
  static async start(targetUrl: string): Promise<ChaosProxy> {
    const proxy = new ChaosProxy(Number(new URL(targetUrl).port));
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    const { port } = this.server.address() as net.AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Kills every connection through the proxy: with a TCP reset, or a plain close. */
  cut(how: "reset" | "close" = "reset"): void {
    for (const socket of this.sockets) {
      if (how === "reset") {
        socket.resetAndDestroy();
      } else {
        socket.destroy();
      }
    }
    this.sockets.clear();
    this.held = [];
  }

  /** Holds new connections (accepted, but nothing forwarded) until release(). */
  block(): void {
    this.blocked = true;
  }

  release(): void {
    this.blocked = false;
    const held = this.held;
    this.held = [];
    for (const client of held) {
      if (!client.destroyed) {
        this.forward(client);
        client.resume();
      }
    }
  }

  async close(): Promise<void> {
    this.cut("close");
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, "127.0.0.1");
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // When one side dies, the other goes too, as on a real broken path.
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => this.sockets.delete(socket));
  }
}
