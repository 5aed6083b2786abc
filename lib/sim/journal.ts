/** An append-only list whose next entries can be awaited (design.md convention 5). */
export class Journal<T> {
  readonly entries: T[] = [];
  private cursor = 0;
  private readonly waiters: Array<{
    match: (t: T) => boolean;
    resolve: (t: T) => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
  }> = [];

  private readonly watchers = new Set<() => void>();

  push(entry: T): void {
    this.entries.push(entry);
    this.flush();
    for (const w of [...this.watchers]) w();
  }

  /** Resolves once `cond` holds, re-checked after every new entry (nothing is taken). */
  until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new Error(`condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.watchers.add(check);
    });
  }

  /** The next entry not yet taken that matches (default: any), within a deadline. */
  next(match: (t: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.resolve === resolve);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no matching journal entry within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ match, resolve, reject, timer });
      this.flush();
    });
  }

  private flush(): void {
    for (let w = 0; w < this.waiters.length;) {
      const waiter = this.waiters[w]!;
      let found = -1;
      for (let i = this.cursor; i < this.entries.length; i++) {
        if (this.taken.has(i)) continue;
        if (waiter.match(this.entries[i]!)) {
          found = i;
          break;
        }
      }
      if (found < 0) {
        w++;
        continue;
      }
      this.taken.add(found);
      while (this.taken.has(this.cursor)) this.taken.delete(this.cursor++);
      this.waiters.splice(w, 1);
      clearTimeout(waiter.timer);
      waiter.resolve(this.entries[found]!);
    }
  }

  private readonly taken = new Set<number>();

  clear(): void {
    this.entries.length = 0;
    this.cursor = 0;
    this.taken.clear();
  }
}
