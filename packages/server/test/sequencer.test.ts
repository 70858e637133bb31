// The sequencer releases each partition's stored events in position order, exactly once, whatever
// the bus does (see src/sequencer.ts). Most cases use partition 0 of app "a".
import { afterEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EventSchema } from "@narrowcast/gen";
import { Sequencer } from "../src/sequencer.js";
import { PARTITIONS, origin } from "../src/positions.js";
import type { StoredEvent } from "../src/store/types.js";

const ev = (appId: string, position: number, partition = 0): StoredEvent => ({
  appId,
  partition,
  position,
  groupId: "g",
  audience: { kind: "group" },
  event: create(EventSchema, {}),
});

describe("Sequencer", () => {
  afterEach(() => vi.useRealTimers());

  function make(
    options: { gapTimeoutMs?: number; maxPending?: number; recover?: (app: string, from: number, to: number, partition: number) => Promise<StoredEvent[]> } = {},
  ) {
    const out: string[] = [];
    const skipped: string[] = [];
    const cursors: number[][] = [];
    const at = (app: string, partition: number, position: number) => (partition ? `${app}/${partition}:${position}` : `${app}:${position}`);
    const recover = options.recover;
    const seq = new Sequencer(
      (e, released) => {
        out.push(at(e.appId, e.partition, e.position));
        cursors.push(released.slice());
      },
      {
        gapTimeoutMs: options.gapTimeoutMs ?? 100,
        maxPending: options.maxPending ?? 100,
        recover: recover && ((app, partition, from, to) => recover(app, from, to, partition)),
        onGapSkipped: (app, partition, from, to) => skipped.push(`${at(app, partition, from)}-${to}`),
      },
    );
    return { seq, out, skipped, cursors };
  }

  it("passes events in order straight through, per app, and unstored ones at once", () => {
    const { seq, out } = make();
    for (const e of [ev("a", 5), ev("b", 1), ev("a", 6), ev("a", 0), ev("b", 2)]) seq.accept(e);
    expect(out).toEqual(["a:5", "b:1", "a:6", "a:0", "b:2"]);
  });

  it("holds an event that overtook another until the gap fills", () => {
    const { seq, out } = make();
    seq.accept(ev("a", 1));
    seq.accept(ev("a", 3));
    seq.accept(ev("a", 4));
    expect(out).toEqual(["a:1"]);
    seq.accept(ev("a", 2));
    expect(out).toEqual(["a:1", "a:2", "a:3", "a:4"]);
  });

  it("without a store, gives a gap up after the timeout and drops the late event (no repeat, no reorder)", () => {
    vi.useFakeTimers();
    const { seq, out, skipped } = make({ gapTimeoutMs: 100 });
    seq.accept(ev("a", 1));
    seq.accept(ev("a", 3));
    vi.advanceTimersByTime(99);
    expect(out).toEqual(["a:1"]);
    vi.advanceTimersByTime(1);
    expect(out).toEqual(["a:1", "a:3"]);
    expect(skipped).toEqual(["a:2-2"]);
    seq.accept(ev("a", 2));
    seq.accept(ev("a", 4));
    expect(out).toEqual(["a:1", "a:3", "a:4"]);
  });

  it("gives a gap up at once when too many events wait behind it", () => {
    const { seq, out, skipped } = make({ maxPending: 2 });
    seq.accept(ev("a", 1));
    for (const id of [3, 4, 5]) seq.accept(ev("a", id));
    expect(out).toEqual(["a:1", "a:3", "a:4", "a:5"]);
    expect(skipped).toEqual(["a:2-2"]);
  });

  it("recovers a gap from the store, in order, when its publication never comes", async () => {
    vi.useFakeTimers();
    const asked: string[] = [];
    const { seq, out, skipped } = make({
      gapTimeoutMs: 100,
      recover: async (app, from, to) => {
        asked.push(`${app}:${from}-${to}`);
        return [ev(app, 2), ev(app, 3)];
      },
    });
    seq.accept(ev("a", 1));
    seq.accept(ev("a", 4));
    await vi.advanceTimersByTimeAsync(100);
    expect(asked).toEqual(["a:2-3"]);
    expect(out).toEqual(["a:1", "a:2", "a:3", "a:4"]);
    expect(skipped).toEqual([]);
    seq.accept(ev("a", 5));
    expect(out.at(-1)).toBe("a:5");
  });

  it("skips a gap the store cannot fill either", async () => {
    vi.useFakeTimers();
    const { seq, out, skipped } = make({ gapTimeoutMs: 100, recover: async () => [] });
    seq.accept(ev("a", 1));
    seq.accept(ev("a", 3));
    await vi.advanceTimersByTimeAsync(100);
    expect(out).toEqual(["a:1", "a:3"]);
    expect(skipped).toEqual(["a:2-2"]);
  });

  // The three faults issue 16 found under injected bus faults, each reproduced here first.
  it("a publication that arrives after the store filled its gap is dropped, not delivered again out of order", async () => {
    vi.useFakeTimers();
    const { seq, out } = make({ gapTimeoutMs: 100, recover: async (app, from, to) => range(app, from, to) });
    for (const id of [1, 3, 4]) seq.accept(ev("a", id));
    await vi.advanceTimersByTimeAsync(100);
    expect(out).toEqual(["a:1", "a:2", "a:3", "a:4"]);
    seq.accept(ev("a", 2));
    seq.accept(ev("a", 3));
    seq.accept(ev("a", 5));
    expect(out).toEqual(["a:1", "a:2", "a:3", "a:4", "a:5"]);
  });

  it("one recovery reads every gap of the held-back range, not only the first", async () => {
    vi.useFakeTimers();
    const asked: string[] = [];
    const { seq, out, skipped } = make({
      gapTimeoutMs: 100,
      recover: async (app, from, to) => {
        asked.push(`${from}-${to}`);
        return range(app, from, to);
      },
    });
    for (const id of [1, 3, 5, 8]) seq.accept(ev("a", id));
    await vi.advanceTimersByTimeAsync(100);
    expect(asked).toEqual(["2-7"]);
    expect(out).toEqual(["a:1", "a:2", "a:3", "a:4", "a:5", "a:6", "a:7", "a:8"]);
    expect(skipped).toEqual([]);
  });

  it("a gap that opens while another is being read is read in turn, never skipped while the store has it", async () => {
    vi.useFakeTimers();
    let release!: () => void;
    const asked: string[] = [];
    const { seq, out, skipped } = make({
      gapTimeoutMs: 100,
      recover: async (app, from, to) => {
        asked.push(`${from}-${to}`);
        if (asked.length === 1) await new Promise<void>((r) => (release = r));
        return range(app, from, to);
      },
    });
    seq.accept(ev("a", 1));
    seq.accept(ev("a", 3));
    await vi.advanceTimersByTimeAsync(100); // reading 2-2 now, slowly
    seq.accept(ev("a", 5)); // a new gap (4) opens meanwhile
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(out).toEqual(["a:1", "a:2", "a:3"]);
    await vi.advanceTimersByTimeAsync(100);
    expect(asked).toEqual(["2-2", "4-4"]);
    expect(out).toEqual(["a:1", "a:2", "a:3", "a:4", "a:5"]);
    expect(skipped).toEqual([]);
  });

  it("a failed read skips nothing: the range is read again after another timeout", async () => {
    vi.useFakeTimers();
    let fail = true;
    const { seq, out, skipped } = make({
      gapTimeoutMs: 100,
      recover: async (app, from, to) => {
        if (fail) throw new Error("database down");
        return range(app, from, to);
      },
    });
    seq.accept(ev("a", 1));
    seq.accept(ev("a", 3));
    await vi.advanceTimersByTimeAsync(100);
    expect(out).toEqual(["a:1"]);
    fail = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(out).toEqual(["a:1", "a:2", "a:3"]);
    expect(skipped).toEqual([]);
  });

  it("startAfter: a subscription's start fixes where the sequence begins, so an overtaken publication is not lost", () => {
    const { seq, out } = make();
    seq.startAfter("a", heads({ 0: 10 }));
    seq.accept(ev("a", 12));
    seq.accept(ev("a", 11));
    expect(out).toEqual(["a:11", "a:12"]);
    seq.startAfter("a", heads({ 0: 50 })); // a later subscription does not move a running sequence
    seq.accept(ev("a", 13));
    expect(out).toEqual(["a:11", "a:12", "a:13"]);
  });

  it("keeps partitions apart: a gap in one holds back nothing of another", () => {
    const { seq, out } = make();
    seq.startAfter("a", origin());
    seq.accept(ev("a", 2, 1)); // partition 1 waits for its position 1
    seq.accept(ev("a", 1, 2));
    seq.accept(ev("a", 2, 2));
    expect(out).toEqual(["a/2:1", "a/2:2"]);
    seq.accept(ev("a", 1, 1));
    expect(out).toEqual(["a/2:1", "a/2:2", "a/1:1", "a/1:2"]);
  });

  it("hands each event over with the app's released positions, that event included", () => {
    const { seq, cursors } = make();
    seq.startAfter("a", heads({ 0: 4, 3: 7 }));
    seq.accept(ev("a", 8, 3));
    seq.accept(ev("a", 5, 0));
    expect(cursors).toEqual([heads({ 0: 4, 3: 8 }), heads({ 0: 5, 3: 8 })]);
  });

  it("noteHeads: events the bus never brings (bus down) are read from the store, in order", async () => {
    vi.useFakeTimers();
    const asked: string[] = [];
    const { seq, out, skipped } = make({
      gapTimeoutMs: 100,
      recover: async (app, from, to, partition) => {
        asked.push(`${partition}:${from}-${to}`);
        return range(app, from, to, partition);
      },
    });
    seq.startAfter("a", heads({ 0: 3, 5: 1 }));
    seq.noteHeads("a", heads({ 0: 6, 5: 1 }));
    await vi.advanceTimersByTimeAsync(99);
    expect(out).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(asked).toEqual(["0:4-6"]);
    expect(out).toEqual(["a:4", "a:5", "a:6"]);
    // The late publications are dropped; the next heads read only what is new.
    for (const id of [4, 5, 6]) seq.accept(ev("a", id));
    seq.noteHeads("a", heads({ 0: 6, 5: 3 }));
    await vi.advanceTimersByTimeAsync(100);
    expect(asked).toEqual(["0:4-6", "5:2-3"]);
    expect(out).toEqual(["a:4", "a:5", "a:6", "a/5:2", "a/5:3"]);
    expect(skipped).toEqual([]);
  });

  it("noteHeads: a publication that comes within the gap timeout needs no store read", async () => {
    vi.useFakeTimers();
    const asked: string[] = [];
    const { seq, out } = make({
      gapTimeoutMs: 100,
      recover: async (app, from, to, partition) => {
        asked.push(`${partition}:${from}-${to}`);
        return range(app, from, to, partition);
      },
    });
    seq.startAfter("a", origin());
    seq.noteHeads("a", heads({ 0: 2 }));
    seq.accept(ev("a", 1));
    seq.accept(ev("a", 2));
    await vi.advanceTimersByTimeAsync(500);
    expect(out).toEqual(["a:1", "a:2"]);
    expect(asked).toEqual([]);
  });

  it("noteHeads: a failed read is retried, and nothing is released out of order meanwhile", async () => {
    vi.useFakeTimers();
    let fail = true;
    const { seq, out, skipped } = make({
      gapTimeoutMs: 100,
      recover: async (app, from, to, partition) => {
        if (fail) throw new Error("database down");
        return range(app, from, to, partition);
      },
    });
    seq.startAfter("a", origin());
    seq.noteHeads("a", heads({ 0: 2 }));
    await vi.advanceTimersByTimeAsync(100);
    seq.accept(ev("a", 3));
    await vi.advanceTimersByTimeAsync(100);
    expect(out).toEqual([]);
    fail = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(out).toEqual(["a:1", "a:2", "a:3"]);
    expect(skipped).toEqual([]);
  });
});

function heads(set: Record<number, number>): number[] {
  const out = origin();
  for (const [p, v] of Object.entries(set)) out[Number(p)] = v;
  expect(out).toHaveLength(PARTITIONS);
  return out;
}

function range(appId: string, from: number, to: number, partition = 0): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (let id = from; id <= to; id++) out.push(ev(appId, id, partition));
  return out;
}
