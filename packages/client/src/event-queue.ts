/**
 * An unbounded queue read by one async iterator: the event stream pushes, `for await`
 * pulls. It ends when the stream is closed, or throws the stream's fatal error.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiting?: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void };
  private ended = false;
  private error: unknown;
  private hasError = false;

  constructor(private readonly onReturn: () => void) {}

  push(item: T): void {
    if (this.ended) {
      return;
    }
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: item, done: false });
      return;
    }
    this.items.push(item);
  }

  /** Ends the iteration once the buffered items are read. */
  end(): void {
    this.ended = true;
    this.settleWaiting();
  }

  /** Throws `error` once the buffered items are read, then ends. */
  fail(error: unknown): void {
    if (this.ended) {
      return;
    }
    this.error = error;
    this.hasError = true;
    this.ended = true;
    this.settleWaiting();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      return Promise.resolve({ value: this.items.shift() as T, done: false });
    }
    if (this.ended) {
      return this.finish();
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.hasError = false;
    this.end();
    this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private finish(): Promise<IteratorResult<T>> {
    if (this.hasError) {
      this.hasError = false;
      return Promise.reject(this.error);
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  private settleWaiting(): void {
    if (!this.waiting) {
      return;
    }
    const { resolve, reject } = this.waiting;
    this.waiting = undefined;
    this.finish().then(resolve, reject);
  }
}
