// One node's link to NATS: a TCP proxy the scenarios cut (connections dropped, new ones refused)
// or pause (bytes held in both directions, then forwarded late, as over a stalled link).
import net from "node:net";

/** One proxied connection; while paused, bytes from either side are held here in order. */
interface Pair {
  sockets: [net.Socket, net.Socket];
  held: Array<[net.Socket, Buffer]>;
}

export class FaultyLink {
  private readonly pairs = new Set<Pair>();
  private state: "up" | "cut" | "paused" = "up";
  private readonly server = net.createServer((client) => this.accept(client));

  constructor(private readonly targetPort: number) {}

  /** Listens on a free port of 127.0.0.1; resolves with it. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    if (this.state === "cut") {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, "127.0.0.1");
    const pair: Pair = { sockets: [client, upstream], held: [] };
    this.pairs.add(pair);
    const forward = (to: net.Socket) => (chunk: Buffer) => {
      if (this.state === "paused") pair.held.push([to, chunk]);
      else to.write(chunk);
    };
    client.on("data", forward(upstream));
    upstream.on("data", forward(client));
    for (const s of pair.sockets) {
      s.on("error", () => {});
      s.on("close", () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
  }

  /** Drops every connection and refuses new ones until restore(). */
  cut(): void {
    this.state = "cut";
    for (const pair of this.pairs) for (const s of pair.sockets) s.destroy();
  }

  /** Holds every byte in both directions until restore(); connections stay open. */
  pause(): void {
    this.state = "paused";
  }

  /** Ends a cut or a pause; held bytes flow on. */
  restore(): void {
    this.state = "up";
    for (const pair of this.pairs) {
      for (const [to, chunk] of pair.held) to.write(chunk);
      pair.held = [];
    }
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
