import { Code } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SubscribeRequestSchema, SubscribeResponse } from "@narrowcast/gen";
import { sleep } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import { NarrowcastError } from "./errors.js";
import { Reason } from "./reasons.js";
import { retryDelay } from "./retry.js";
import { EventQueue } from "./event-queue.js";
import { toClientEvent } from "./events.js";
import type { ClientEvent, ClientEventMap, ClientEventType } from "./events.js";

/** Opens one Subscribe call; the stream aborts it through `signal`. */
export type SubscribeFn = (
  request: MessageInitShape<typeof SubscribeRequestSchema>,
  signal: AbortSignal,
) => AsyncIterable<SubscribeResponse>;

export interface EventStreamOptions {
  /** Resume after this cursor on the first connection (e.g. one saved from a previous run). */
  cursor?: string;
  /** Heartbeat interval asked of the server, 1 to 300 s (rule EVT-5); default 15. */
  heartbeatSeconds?: number;
  /** Backoff between reconnects; default base 250 ms, at most 15 s. */
  reconnect?: BackoffOptions;
  /**
   * Whether an expired token is worth a reconnect (true when the token comes from getToken,
   * which may return a fresh one).
   */
  tokenRefreshes?: boolean;
}

type Handler<K extends ClientEventType> = (event: ClientEventMap[K]) => void;

const defaultReconnect = { baseDelayMs: 250, maxDelayMs: 15_000 };

/**
 * The client's live event stream: one EventService.Subscribe call at a time, fanned out to
 * `on()` handlers and `events()` iterators. When the call breaks it reconnects with
 * exponential backoff and full jitter, resuming from the last cursor received (an event's
 * cursor, or the cursor of `ready`), so that the server replays exactly what was missed
 * (rule EVT-3): no event is lost or delivered twice across disconnects. It waits at least the
 * RetryInfo delay the server gave (SLOW_CONSUMER, SHUTTING_DOWN, BACKEND_UNAVAILABLE). A cursor the server no longer
 * has events for (CURSOR_EXPIRED, rule EVT-10) cannot be resumed from, ever: the stream starts
 * afresh without a cursor and tells the app through "resync" to reload its state. It stops on
 * close(), or on an error that retrying cannot fix, which it reports through "error".
 */
export class EventStream {
  private readonly handlers = new Map<ClientEventType, Set<Handler<ClientEventType>>>();
  private readonly queues = new Set<EventQueue<ClientEvent>>();
  private readyWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running?: { controller: AbortController; done: Promise<void> };
  private closed = false;
  private lastCursor: string;
  private isLive = false;
  /** Set when the cursor expired: the next `ready` is followed by a "resync" event. */
  private pendingResync?: NarrowcastError;

  constructor(
    private readonly subscribe: SubscribeFn,
    private readonly options: EventStreamOptions = {},
  ) {
    this.lastCursor = options.cursor ?? "";
  }

  /** The position to resume from: the cursor of the last event or `ready` received. */
  get cursor(): string {
    return this.lastCursor;
  }

  /** True between a `ready` and the next disconnect. */
  get live(): boolean {
    return this.isLive;
  }

  on<K extends ClientEventType>(type: K, handler: Handler<K>): () => void {
    let set = this.handlers.get(type);
    if (!set) {
      set = new Set();
      this.handlers.set(type, set);
    }
    set.add(handler as Handler<ClientEventType>);
    if (type !== "error") {
      this.start();
    }
    return () => this.off(type, handler);
  }

  off<K extends ClientEventType>(type: K, handler: Handler<K>): void {
    this.handlers.get(type)?.delete(handler as Handler<ClientEventType>);
  }

  /** An iterator of every event from now on; it buffers what its reader has not taken yet. */
  events(): AsyncIterableIterator<ClientEvent> {
    const queue: EventQueue<ClientEvent> = new EventQueue(() => this.queues.delete(queue));
    if (this.closed) {
      queue.end();
      return queue;
    }
    this.queues.add(queue);
    this.start();
    return queue;
  }

  /** Starts the stream if needed and resolves once it is live (after the next `ready`). */
  connect(): Promise<void> {
    if (this.closed) {
      return Promise.reject(closedError());
    }
    this.start();
    if (this.isLive) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Stops the stream for good and ends every iterator. */
  async close(): Promise<void> {
    if (this.closed) {
      return this.running?.done;
    }
    this.closed = true;
    this.isLive = false;
    this.running?.controller.abort(closedError());
    for (const queue of this.queues) {
      queue.end();
    }
    this.queues.clear();
    this.rejectReadyWaiters(closedError());
    await this.running?.done;
  }

  private start(): void {
    if (this.closed || this.running) {
      return;
    }
    const controller = new AbortController();
    const done = this.run(controller.signal).finally(() => {
      if (this.running?.controller === controller) {
        this.running = undefined;
      }
    });
    this.running = { controller, done };
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let expiredTokenRetried = false;
    while (!signal.aborted) {
      let error: NarrowcastError;
      const attempt = new AbortController();
      const stopAttempt = () => attempt.abort(signal.reason);
      signal.addEventListener("abort", stopAttempt);
      const watchdog = new Watchdog(this.watchdogMs(), () =>
        attempt.abort(new NarrowcastError({ code: Code.Unavailable, message: "no heartbeat from the server" })),
      );
      try {
        const heartbeat = this.options.heartbeatSeconds;
        const request = {
          cursor: this.lastCursor,
          heartbeatInterval: heartbeat ? { seconds: BigInt(Math.floor(heartbeat)), nanos: 0 } : undefined,
        };
        for await (const response of this.subscribe(request, attempt.signal)) {
          watchdog.reset();
          if (this.handleResponse(response)) {
            failures = 0;
            expiredTokenRetried = false;
          }
        }
        // A server never ends the stream on its own; treat it like a dropped connection.
        error = new NarrowcastError({ code: Code.Unavailable, message: "the server ended the event stream" });
      } catch (e) {
        error = watchdog.fired ? watchdog.error : NarrowcastError.from(e);
      } finally {
        watchdog.stop();
        signal.removeEventListener("abort", stopAttempt);
        attempt.abort();
      }
      this.isLive = false;
      if (signal.aborted) {
        return;
      }
      if (error.is(Reason.CURSOR_EXPIRED) && this.lastCursor !== "") {
        // The events after the cursor were pruned: resuming from it can never work, and backing
        // off would only delay the app's resync. Start afresh at once; with no cursor left, a
        // second CURSOR_EXPIRED is a server bug and ends the stream below instead of looping.
        this.lastCursor = "";
        this.pendingResync = error;
        continue;
      }
      const retryExpiredToken: boolean =
        error.is(Reason.TOKEN_EXPIRED) && this.options.tokenRefreshes === true && !expiredTokenRetried;
      if (!isRetryable(error) && !retryExpiredToken) {
        this.fail(error);
        return;
      }
      expiredTokenRetried ||= retryExpiredToken;
      failures++;
      const delayMs = retryDelay(error, failures - 1, this.options.reconnect ?? {}, defaultReconnect);
      this.dispatch({ type: "reconnecting", attempt: failures, delayMs, error });
      try {
        await sleep(delayMs, signal);
      } catch {
        return;
      }
    }
  }

  /** Handles one item of the stream; returns true for `ready`. */
  private handleResponse(response: SubscribeResponse): boolean {
    const item = response.item;
    switch (item.case) {
      case "event": {
        // Events without a cursor (online-only) are not replayable and do not move it (rule EVT-7).
        if (item.value.cursor !== "") {
          this.lastCursor = item.value.cursor;
        }
        const event = toClientEvent(item.value);
        if (event) {
          this.dispatch(event);
        }
        return false;
      }
      case "ready": {
        if (item.value.cursor !== "") {
          this.lastCursor = item.value.cursor;
        }
        this.isLive = true;
        const waiters = this.readyWaiters;
        this.readyWaiters = [];
        this.dispatch({ type: "ready", cursor: this.lastCursor });
        const resync = this.pendingResync;
        if (resync) {
          this.pendingResync = undefined;
          this.dispatch({ type: "resync", cursor: this.lastCursor, error: resync });
        }
        for (const waiter of waiters) {
          waiter.resolve();
        }
        return true;
      }
      default:
        return false; // heartbeat
    }
  }

  /** Stops after a non-retryable error; a later on()/events()/connect() starts again from the same cursor. */
  private fail(error: NarrowcastError): void {
    this.dispatch({ type: "error", error });
    for (const queue of this.queues) {
      queue.fail(error);
    }
    this.queues.clear();
    this.rejectReadyWaiters(error);
    this.running = undefined;
  }

  private dispatch(event: ClientEventMap[ClientEventType]): void {
    if (event.type !== "error") {
      for (const queue of this.queues) {
        queue.push(event);
      }
    }
    for (const handler of this.handlers.get(event.type) ?? []) {
      try {
        handler(event);
      } catch (e) {
        // A broken handler must not break the stream for everyone else: report it the way
        // an uncaught exception is reported, outside this call stack.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  private rejectReadyWaiters(error: unknown): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) {
      waiter.reject(error);
    }
  }

  // Twice the heartbeat interval plus slack: long enough never to fire on a healthy stream.
  private watchdogMs(): number {
    const heartbeat = this.options.heartbeatSeconds || 15;
    return (heartbeat * 2 + 5) * 1000;
  }
}

/**
 * Errors after which reconnecting cannot help: the request itself is refused (bad token,
 * bad cursor, …; CURSOR_EXPIRED is handled before this). Everything else (Unavailable,
 * SHUTTING_DOWN, SLOW_CONSUMER, resets) is a reason to resume.
 */
function isRetryable(error: NarrowcastError): boolean {
  switch (error.code) {
    case Code.Unauthenticated:
    case Code.PermissionDenied:
    case Code.InvalidArgument:
    case Code.NotFound:
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
    case Code.OutOfRange:
    case Code.Unimplemented:
      return false;
    default:
      return true;
  }
}

function closedError(): NarrowcastError {
  return new NarrowcastError({ code: Code.Canceled, message: "the client was closed" });
}

/** Fires when nothing arrived for `ms`: a half-open connection that would otherwise hang forever. */
class Watchdog {
  fired = false;
  readonly error = new NarrowcastError({ code: Code.Unavailable, message: "no heartbeat from the server" });
  private timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly ms: number,
    private readonly onFire: () => void,
  ) {
    this.timer = this.arm();
  }

  reset(): void {
    clearTimeout(this.timer);
    this.timer = this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.fired = true;
      this.onFire();
    }, this.ms);
    // Do not keep a process alive just to watch a stream.
    (timer as { unref?: () => void }).unref?.();
    return timer;
  }
}
