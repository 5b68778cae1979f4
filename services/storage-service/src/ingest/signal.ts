/** A wake-up for loops: `wait()` resolves at the next `notify()` (or after `timeoutMs`). */
export class Signal {
  #waiters: (() => void)[] = [];

  wait(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(done);
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => {
            this.#waiters = this.#waiters.filter((w) => w !== done);
            resolve();
          },
          Math.max(0, timeoutMs),
        );
      }
    });
  }

  notify(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
