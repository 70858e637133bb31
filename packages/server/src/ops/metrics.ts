// Prometheus metrics (prom-client), served at GET /metrics. Each server has its own registry, so
// several servers in one process (tests) do not mix their series. What is measured and where:
//   RPCs by procedure and code, unary latency   interceptor() and the Subscribe fast path (recordRpc)
//   open Subscribe streams                      the hub's count, read at scrape time
//   live events delivered, slow-consumer cuts   the hub (HubObserver)
//   store operation latency                     instrumentStore(): every Store method, timed
//   sequencer gaps skipped                      the hub's Sequencer (gapSkipped)
//   bus lag                                     observeBus(): event time to arrival from the bus
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Bus } from "../bus/types.js";
import type { HubObserver } from "../hub.js";
import type { Store, StoredEvent } from "../store/types.js";

/**
 * The Node.js process metrics (CPU, memory, event-loop lag, GC), collected once per process: each
 * collectDefaultMetrics() call installs observers that are never removed, and tests start many
 * servers in one process. Every server's scrape includes them.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Latency buckets in seconds, 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsOptions {
  /** Open Subscribe streams on this node, read at each scrape. */
  openStreams: () => number;
  /** Also export Node.js process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
}

export class ServerMetrics implements HubObserver {
  /** This server's own series. */
  readonly registry = new Registry();
  /** What a scrape returns: the server's series and, by default, the process's. */
  private readonly exposed: Registry;
  private readonly rpcHandled: Counter<"procedure" | "code">;
  private readonly rpcDuration: Histogram<"procedure" | "code">;
  /** Counted in a plain field: it runs once per event per stream, in the fan-out's hot path. */
  private deliveredCount = 0;
  private readonly slowConsumerCuts: Counter;
  private readonly storeDuration: Histogram<"operation" | "outcome">;
  private readonly gapsSkipped: Counter;
  private readonly eventsSkipped: Counter;
  private readonly eventsRecovered: Counter;
  private readonly busLag: Histogram;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    this.rpcHandled = new Counter({
      name: "narrowcast_rpc_handled_total",
      help: "RPCs completed, by procedure and status code (streams count when they end)",
      labelNames: ["procedure", "code"],
      registers,
    });
    this.rpcDuration = new Histogram({
      name: "narrowcast_rpc_duration_seconds",
      help: "Latency of unary RPCs, by procedure and status code",
      labelNames: ["procedure", "code"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Gauge({
      name: "narrowcast_subscribe_streams_open",
      help: "Subscribe streams open on this node",
      registers,
      collect() {
        this.set(options.openStreams());
      },
    });
    const delivered = () => this.deliveredCount;
    new Counter({
      name: "narrowcast_events_delivered_total",
      help: "Live events handed to Subscribe streams, one per stream (replays not counted)",
      registers,
      collect() {
        this.reset();
        this.inc(delivered());
      },
    });
    this.slowConsumerCuts = new Counter({
      name: "narrowcast_slow_consumer_cuts_total",
      help: "Subscribe streams ended with SLOW_CONSUMER because their queue was full",
      registers,
    });
    this.storeDuration = new Histogram({
      name: "narrowcast_store_operation_duration_seconds",
      help: "Latency of store operations, by operation and outcome (ok, error)",
      labelNames: ["operation", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.gapsSkipped = new Counter({
      name: "narrowcast_sequencer_gaps_skipped_total",
      help: "Gaps in partition positions given up by the sequencer (neither published nor readable from the store)",
      registers,
    });
    this.eventsRecovered = new Counter({
      name: "narrowcast_events_read_from_store_total",
      help: "Live events read from the store because the bus did not bring them in time (late, lost, or bus down)",
      registers,
    });
    this.eventsSkipped = new Counter({
      name: "narrowcast_sequencer_events_skipped_total",
      help: "Positions inside the skipped gaps",
      registers,
    });
    this.busLag = new Histogram({
      name: "narrowcast_bus_lag_seconds",
      help: "Time from an event's creation (its commit) to its arrival from the bus on this node",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // merge() takes the metrics registered so far: after all of them.
    this.exposed = (options.processMetrics ?? true) ? Registry.merge([this.registry, processMetrics()]) : this.registry;
  }

  get contentType(): string {
    return this.exposed.contentType;
  }

  /** The exposition text for a scrape. */
  scrape(): Promise<string> {
    return this.exposed.metrics();
  }

  /** Records one finished RPC; `seconds` only for unary ones (a stream's lifetime is no latency). */
  recordRpc(procedure: string, error: unknown, seconds?: number): void {
    const code = error === undefined ? "OK" : Code[ConnectError.from(error).code];
    this.rpcHandled.inc({ procedure, code });
    if (seconds !== undefined) this.rpcDuration.observe({ procedure, code }, seconds);
  }

  /** Counts and times every RPC served by connect-es; streams are counted when they end. */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      const procedure = `${req.service.typeName}/${req.method.name}`;
      const start = process.hrtime.bigint();
      let res;
      try {
        res = await next(req);
      } catch (err) {
        this.recordRpc(procedure, err, req.stream ? undefined : elapsed(start));
        throw err;
      }
      if (!res.stream) {
        this.recordRpc(procedure, undefined, elapsed(start));
        return res;
      }
      const inner = res.message;
      const record = (err: unknown) => this.recordRpc(procedure, err);
      return {
        ...res,
        message: (async function* () {
          try {
            yield* inner;
          } catch (err) {
            record(err);
            throw err;
          }
          record(undefined);
        })(),
      };
    };
  }

  delivered(count: number): void {
    this.deliveredCount += count;
  }

  slowConsumerCut(): void {
    this.slowConsumerCuts.inc();
  }

  recoveredFromStore(count: number): void {
    this.eventsRecovered.inc(count);
  }

  gapSkipped(fromId: number, toId: number): void {
    this.gapsSkipped.inc();
    this.eventsSkipped.inc(Math.max(0, toId - fromId + 1));
  }

  /** The store with every method timed (methods that return a promise: until it settles). */
  instrumentStore(store: Store): Store {
    const wrapped = new Map<PropertyKey, unknown>();
    const histogram = this.storeDuration;
    return new Proxy(store, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function" || typeof prop !== "string") return value;
        let fn = wrapped.get(prop);
        if (!fn) {
          fn = (...args: unknown[]) => {
            const end = histogram.startTimer({ operation: prop });
            let result: unknown;
            try {
              result = value.apply(target, args);
            } catch (err) {
              end({ outcome: "error" });
              throw err;
            }
            if (!(result instanceof Promise)) {
              end({ outcome: "ok" });
              return result;
            }
            return result.then(
              (v) => (end({ outcome: "ok" }), v),
              (err: unknown) => {
                end({ outcome: "error" });
                throw err;
              },
            );
          };
          wrapped.set(prop, fn);
        }
        return fn;
      },
    });
  }

  /** The bus, with the lag of every event that arrives from it observed. */
  observeBus(bus: Bus): Bus {
    const connected = new Gauge({
      name: "narrowcast_bus_connected",
      help: "1 while this node's bus connection is up, 0 while it is lost (live delivery then reads the store)",
      registers: [this.registry],
    });
    connected.set(1);
    bus.onConnectionChange?.((up) => connected.set(up ? 1 : 0));
    const lag = this.busLag;
    const observe = (e: StoredEvent) => {
      if (e.event.time) lag.observe(Math.max(0, Date.now() - timestampMs(e.event.time)) / 1000);
    };
    return {
      publish: (event) => bus.publish(event),
      subscribe: (handler) =>
        bus.subscribe((event) => {
          observe(event);
          handler(event);
        }),
      close: () => bus.close(),
      ping: bus.ping ? () => bus.ping!() : undefined,
      onConnectionChange: bus.onConnectionChange ? (listener) => bus.onConnectionChange!(listener) : undefined,
      interest: bus.interest,
    };
  }
}

function elapsed(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
