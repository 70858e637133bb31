// Unit tests of the reaction rules (rules/reactions.ts): what a reaction may be (RCT-2), the
// 20-distinct limit (RCT-4), and the code point order counts and listings follow (RCT-5, RCT-6).
import { describe, expect, it } from "vitest";
import { MAX_DISTINCT_REACTIONS, MAX_REACTION_CODE_POINTS, compareCodePoints, exceedsReactionLimit, reactionProblem } from "../src/rules/index.js";

describe("RCT-2: reactionProblem", () => {
  it("the limits are the spec's: 32 code points, 20 distinct reactions", () => {
    expect(MAX_REACTION_CODE_POINTS).toBe(32);
    expect(MAX_DISTINCT_REACTIONS).toBe(20);
  });

  it("accepts 1 to 32 code points, whatever their UTF-16 or UTF-8 length", () => {
    const valid = [
      "👍",
      "a",
      ":+1:",
      "👍".repeat(32), // 64 UTF-16 units, 128 UTF-8 bytes
      "a".repeat(31) + "👍",
      "a".repeat(32),
      "👨‍👩‍👧‍👦", // 7 code points joined by ZWJ
      "🇫🇷",
      " 👍 ", // white space around something else
      "e\u0301",
      "\uFFFD",
    ];
    for (const reaction of valid) expect(reactionProblem(reaction), JSON.stringify(reaction)).toBeUndefined();
  });

  it("rejects the empty string and more than 32 code points", () => {
    expect(reactionProblem("")).toMatch(/required/);
    for (const reaction of ["👍".repeat(33), "a".repeat(33), "a".repeat(32) + "👍", "👨‍👩‍👧‍👦".repeat(5)]) {
      expect(reactionProblem(reaction), JSON.stringify(reaction)).toMatch(/32 code points/);
    }
  });

  it("rejects any control character (category Cc), wherever it is", () => {
    const controls = ["\u0000", "\u0007", "\t", "\n", "\r", "\u001F", "\u007F", "\u0085", "\u009F"];
    for (const c of controls) {
      for (const reaction of [c, `👍${c}`, `${c}ok`, `a${c}b`]) {
        expect(reactionProblem(reaction), JSON.stringify(reaction)).toMatch(/control/);
      }
    }
    // Format characters (Cf) are not controls: a ZWJ sequence is a valid reaction.
    expect(reactionProblem("👩\u200D💻")).toBeUndefined();
  });

  it("rejects only white space (Unicode White_Space), in any amount and mix", () => {
    const spaces = [" ", "\u00A0", "\u1680", "\u2000", "\u2003", "\u200A", "\u2028", "\u2029", "\u202F", "\u205F", "\u3000"];
    for (const s of spaces) {
      for (const reaction of [s, s.repeat(3), ` ${s} `]) expect(reactionProblem(reaction), JSON.stringify(reaction)).toMatch(/white space/);
      expect(reactionProblem(`${s}x${s}`), JSON.stringify(s)).toBeUndefined();
    }
    expect(reactionProblem(" ".repeat(32))).toMatch(/white space/);
    expect(reactionProblem(" ".repeat(33))).toMatch(/32 code points/);
  });

  it("rejects a lone surrogate: a reaction is Unicode text", () => {
    for (const reaction of ["\uD83D", "\uDC4D", "a\uD83Db"]) expect(reactionProblem(reaction), JSON.stringify(reaction)).toBeDefined();
  });
});

describe("RCT-4: exceedsReactionLimit", () => {
  const distinct = (n: number) => Array.from({ length: n }, (_, i) => `r${i}`);

  it("a new reaction goes over the limit only when the message already has 20", () => {
    expect(exceedsReactionLimit([], "👍")).toBe(false);
    expect(exceedsReactionLimit(distinct(19), "👍")).toBe(false);
    expect(exceedsReactionLimit(distinct(20), "👍")).toBe(true);
  });

  it("one of the message's reactions never does, at the limit or not", () => {
    expect(exceedsReactionLimit(distinct(20), "r0")).toBe(false);
    expect(exceedsReactionLimit(distinct(20), "r19")).toBe(false);
    expect(exceedsReactionLimit(distinct(3), "r2")).toBe(false);
  });

  it("compares exact strings: a differently normalised or spelled reaction is new", () => {
    const full = [...distinct(19), "\u00E9"];
    expect(exceedsReactionLimit(full, "e\u0301")).toBe(true);
    expect(exceedsReactionLimit([...distinct(19), "👍"], ":+1:")).toBe(true);
  });
});

describe("RCT-5, RCT-6: compareCodePoints", () => {
  it("orders by code point where UTF-16 order differs: U+FFFD before U+1F44D", () => {
    expect("👍" < "\uFFFD").toBe(true); // what JavaScript's UTF-16 comparison says
    expect(compareCodePoints("\uFFFD", "👍")).toBeLessThan(0);
    expect(compareCodePoints("👍", "\uFFFD")).toBeGreaterThan(0);
    expect(["👍", "z", "\uFFFD", "a", "\uE000"].sort(compareCodePoints)).toEqual(["a", "z", "\uE000", "\uFFFD", "👍"]);
  });

  it("is 0 for equal strings only, and puts a prefix first", () => {
    expect(compareCodePoints("👍", "👍")).toBe(0);
    expect(compareCodePoints("\u00E9", "e\u0301")).not.toBe(0);
    expect(compareCodePoints("a", "ab")).toBeLessThan(0);
    expect(compareCodePoints("", "a")).toBeLessThan(0);
  });

  it("agrees with a comparison of code point sequences (seeded random strings)", () => {
    // Code points from every UTF-8 length and both sides of the surrogate range.
    const pool = [0x41, 0x7a, 0x7f, 0xe9, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f44d, 0x10ffff];
    let seed = 17;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16;
    const random = () => String.fromCodePoint(...Array.from({ length: next() % 4 }, () => pool[next() % pool.length]));
    const reference = (a: string, b: string) => {
      const [x, y] = [[...a].map((c) => c.codePointAt(0)!), [...b].map((c) => c.codePointAt(0)!)];
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
      return x.length - y.length;
    };
    for (let i = 0; i < 2000; i++) {
      const [a, b] = [random(), random()];
      expect(Math.sign(compareCodePoints(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(Math.sign(reference(a, b)));
    }
  });
});
