// Group commit for the SQLite store. Every SendMessage is a write transaction, and with WAL its
// COMMIT (appending the changed pages to the log, and now and then a checkpoint) cost about as
// much as all its statements together (profile in docs/benchmarks.md). Writes that arrive while
// the event loop handles one batch of I/O are queued and run in one transaction at the next turn
// (setImmediate), each in a savepoint of its own: a write that fails rolls back alone and rejects
// alone, the others commit. Each write still runs in arrival order and reads what the earlier ones
// wrote, so the result is the same as one transaction each; only the commits are shared, and no
// write is acknowledged before its commit.
import type Database from "better-sqlite3";

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Pending {
  work: () => unknown;
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  /** A nested better-sqlite3 transaction is a savepoint. */
  private readonly savepoint: Database.Transaction<(work: () => unknown) => unknown>;
  private readonly batch: Database.Transaction<(items: Pending[]) => Outcome[]>;

  constructor(db: Database.Database) {
    this.savepoint = db.transaction((work: () => unknown) => work());
    this.batch = db.transaction((items: Pending[]) =>
      items.map((item): Outcome => {
        try {
          return { ok: true, value: this.savepoint(item.work) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  /** Runs `work` in the next batch's transaction; resolves once that transaction committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: never) => void, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits what is queued now (the next turn would; close() cannot wait for it). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const items = this.queue;
    if (items.length === 0) return;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.batch(items);
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing of the batch is stored.
      for (const item of items) item.reject(error);
      return;
    }
    items.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) item.resolve(outcome.value as never);
      else item.reject(outcome.error);
    });
  }
}
