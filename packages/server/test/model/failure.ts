// A disagreement between the server and the model: the rule it breaks, what was expected and what
// came back. The harness adds the seed and the last operations.
export class ModelFailure extends Error {
  constructor(
    readonly rule: string,
    readonly what: string,
    readonly expected: unknown,
    readonly got: unknown,
  ) {
    super(`${rule}: ${what}`);
    this.name = "ModelFailure";
  }

  /** A minimal diff: for two lists, only the entries that differ (with their position). */
  diff(): string {
    const e = this.expected;
    const g = this.got;
    if (Array.isArray(e) && Array.isArray(g)) {
      const lines: string[] = [];
      const n = Math.max(e.length, g.length);
      for (let i = 0; i < n; i++) {
        const a = JSON.stringify(e[i]);
        const b = JSON.stringify(g[i]);
        if (a !== b) lines.push(`  [${i}] expected ${a ?? "(nothing)"}\n  [${i}] got      ${b ?? "(nothing)"}`);
        if (lines.length >= 8) {
          lines.push("  ...");
          break;
        }
      }
      return lines.join("\n");
    }
    return `  expected ${JSON.stringify(e)}\n  got      ${JSON.stringify(g)}`;
  }
}
