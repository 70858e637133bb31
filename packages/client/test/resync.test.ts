// A saved cursor older than the server's event retention (OutOfRange CURSOR_EXPIRED, rule
// EVT-10) can never be resumed from: the stream must start afresh without a cursor, tell the
// app to reload ("resync", after the fresh `ready`), and never loop on the error.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema, SubscribeResponseSchema } from "@narrowcast/gen";
import type { SubscribeResponse } from "@narrowcast/gen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventStream } from "../src/event-stream.js";
import type { SubscribeFn } from "../src/event-stream.js";
import { NarrowcastError, Reason, createTextMessage } from "../src/index.js";
import type { ClientEvent, ErrorEvent, ReconnectingEvent } from "../src/index.js";
import { Recorder, startFixture } from "./helpers.js";
import type { Fixture } from "./helpers.js";

function narrowcastError(code: Code, reason: string, field: string, retryDelayMs?: number): ConnectError {
  const details: ConstructorParameters<typeof ConnectError>[3] = [
    { desc: ErrorInfoSchema, value: { reason, domain: "narrowcast", metadata: { field } } },
  ];
  if (retryDelayMs !== undefined) {
    details.push({ desc: RetryInfoSchema, value: { retryDelay: { seconds: 0n, nanos: retryDelayMs * 1_000_000 } } });
  }
  return new ConnectError(`${reason} (injected)`, code, undefined, details);
}

const cursorExpired = () => narrowcastError(Code.OutOfRange, "CURSOR_EXPIRED", "cursor");

/** A call that fails as a server's would: asynchronously, before any item. */
async function* failing(error: ConnectError): AsyncGenerator<SubscribeResponse> {
  throw error;
}

/** A stream that sends `ready` with this cursor and then stays open until aborted. */
async function* liveStream(cursor: string, signal: AbortSignal): AsyncGenerator<SubscribeResponse> {
  yield create(SubscribeResponseSchema, { item: { case: "ready", value: { cursor } } });
  await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
}

/** A fake Subscribe: answers the n-th call with `answers[n]` and records each request's cursor. */
function fakeSubscribe(answers: ((signal: AbortSignal) => AsyncIterable<SubscribeResponse>)[]) {
  const cursors: string[] = [];
  const subscribe: SubscribeFn = (request, signal) => {
    cursors.push(request.cursor ?? "");
    const answer = answers[cursors.length - 1];
    if (!answer) {
      throw new Error("unexpected extra Subscribe call");
    }
    return answer(signal);
  };
  return { subscribe, cursors };
}

function record(stream: EventStream) {
  const seen: string[] = [];
  const errors: ErrorEvent[] = [];
  const reconnects: ReconnectingEvent[] = [];
  // on() starts the stream, and a fake can fail synchronously: register the error handlers first.
  stream.on("error", (e) => errors.push(e));
  stream.on("reconnecting", (e) => reconnects.push(e));
  for (const type of ["ready", "resync"] as const) {
    stream.on(type, (e) => seen.push(`${e.type} ${e.cursor}`));
  }
  return { seen, errors, reconnects };
}

describe("CURSOR_EXPIRED, against a fake server", () => {
  it("resubscribes at once without a cursor and emits resync after the fresh ready", async () => {
    const fake = fakeSubscribe([
      () => failing(cursorExpired()),
      (signal) => liveStream("fresh", signal),
    ]);
    const stream = new EventStream(fake.subscribe, { cursor: "old", reconnect: { baseDelayMs: 60_000 } });
    const { seen, errors, reconnects } = record(stream);
    try {
      // connect() resolves (the app is live again), it does not reject with the expiry.
      await stream.connect();
      expect(fake.cursors).toEqual(["old", ""]);
      expect(seen).toEqual(["ready fresh", "resync fresh"]);
      // Not a failure: no backoff (a 60 s base delay would have timed the test out), no error.
      expect(reconnects).toEqual([]);
      expect(errors).toEqual([]);
      expect(stream.cursor).toBe("fresh");
    } finally {
      await stream.close();
    }
  });

  it("the iterator yields the resync event too, carrying the CURSOR_EXPIRED error", async () => {
    const fake = fakeSubscribe([
      () => failing(cursorExpired()),
      (signal) => liveStream("fresh", signal),
    ]);
    const stream = new EventStream(fake.subscribe, { cursor: "old" });
    try {
      const iterator = stream.events();
      const first = (await iterator.next()).value as ClientEvent;
      const second = (await iterator.next()).value as ClientEvent;
      expect(first).toMatchObject({ type: "ready" });
      expect(second).toMatchObject({ type: "resync", cursor: "fresh" });
      const error = (second as { error: NarrowcastError }).error;
      expect(error.is(Reason.CURSOR_EXPIRED)).toBe(true);
      expect(error).toMatchObject({ code: Code.OutOfRange, field: "cursor" });
    } finally {
      await stream.close();
    }
  });

  it("does not loop: CURSOR_EXPIRED without a cursor is a fatal error after exactly two calls", async () => {
    const fake = fakeSubscribe([
      () => failing(cursorExpired()),
      () => failing(cursorExpired()),
    ]);
    const stream = new EventStream(fake.subscribe, { cursor: "old" });
    const { seen, errors } = record(stream);
    try {
      await expect(stream.connect()).rejects.toMatchObject({ code: Code.OutOfRange, reason: Reason.CURSOR_EXPIRED });
      expect(fake.cursors).toEqual(["old", ""]);
      expect(errors).toHaveLength(1);
      expect(seen).toEqual([]);
    } finally {
      await stream.close();
    }
  });

  it("other retryable errors wait at least the server's RetryInfo delay before resuming", async () => {
    const fake = fakeSubscribe([
      () => failing(narrowcastError(Code.Unavailable, "SHUTTING_DOWN", "", 150)),
      (signal) => liveStream("c1", signal),
    ]);
    const stream = new EventStream(fake.subscribe, { cursor: "c0", reconnect: { baseDelayMs: 1, maxDelayMs: 1 } });
    const { reconnects } = record(stream);
    try {
      const started = Date.now();
      await stream.connect();
      expect(Date.now() - started).toBeGreaterThanOrEqual(145);
      expect(reconnects.map((r) => [r.error.reason, r.delayMs >= 150])).toEqual([["SHUTTING_DOWN", true]]);
      // A retryable error keeps the cursor: the stream resumes, it does not resync.
      expect(fake.cursors).toEqual(["c0", "c0"]);
    } finally {
      await stream.close();
    }
  });
});

describe("CURSOR_EXPIRED, against the reference server", () => {
  let fx: Fixture;
  beforeAll(async () => {
    // Events older than 1 s are pruned every 100 ms (rule EVT-10).
    fx = await startFixture({ eventRetentionSeconds: 1, eventPruneIntervalMs: 100 });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it("a client given a pruned cursor resyncs once and then receives live events", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const first = await app.client("bob");
    const before = new Recorder(first);
    await first.connect();
    await alice.sendMessage(createTextMessage("seen"), { groupId: app.groupId });
    await before.untilText("seen");
    const saved = first.cursor;
    await first.close();
    await alice.sendMessage(createTextMessage("missed"), { groupId: app.groupId });
    // Wait until both events are past the retention and a prune has run.
    await new Promise((resolve) => setTimeout(resolve, 1_600));

    let subscribes = 0;
    const countSubscribes: Interceptor = (next) => async (req) => {
      if (req.method.name === "Subscribe") {
        subscribes++;
      }
      return next(req);
    };
    const second = await app.client("bob", { cursor: saved, interceptors: [countSubscribes] });
    const after = new Recorder(second);
    const reconnects: unknown[] = [];
    second.on("reconnecting", (e) => reconnects.push(e));
    await second.connect();
    const resync = await after.until((e) => e.type === "resync");
    expect(resync).toMatchObject({ type: "resync" });
    expect((resync as { error: NarrowcastError }).error.is(Reason.CURSOR_EXPIRED)).toBe(true);
    expect(after.events.map((e) => e.type)).toEqual(["ready", "resync"]);
    expect(second.cursor).not.toBe(saved);

    // What the app does on resync: reload from history, which still has everything.
    const history = await second.listMessages(app.groupId);
    expect(history.items.map((m) => m.elements[0].element.case === "text" && m.elements[0].element.value.text)).toEqual([
      "seen",
      "missed",
    ]);
    await alice.sendMessage(createTextMessage("live"), { groupId: app.groupId });
    await after.untilText("live");
    expect(after.texts()).toEqual(["live"]);
    expect(subscribes).toBe(2);
    expect(reconnects).toEqual([]);
  });
});
