/**
 * A FIFO async mutex. `acquire` resolves with a release function once every
 * earlier holder has released; `tryAcquire` takes the lock only when it is
 * free and nobody is queued, so uncontended callers stay synchronous.
 */
export class Mutex {
  #locked = false;
  readonly #waiters: Array<() => void> = [];

  get locked(): boolean {
    return this.#locked;
  }

  tryAcquire(): (() => void) | undefined {
    if (this.#locked) return undefined;
    this.#locked = true;
    return this.#releaser();
  }

  acquire(): Promise<() => void> {
    const release = this.tryAcquire();
    if (release) return Promise.resolve(release);
    return new Promise((resolve) => {
      this.#waiters.push(() => resolve(this.#releaser()));
    });
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#locked = false;
    };
  }
}
