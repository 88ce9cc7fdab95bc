/** Runs at most one call per key at a time: concurrent callers of the same key share its promise. */
export class SingleFlight<K, V> {
  readonly #inFlight = new Map<K, Promise<V>>();

  /** The running call for `key`, or a new one from `run`; forgotten once it settles, fulfilled or not. */
  do(key: K, run: () => Promise<V>): Promise<V> {
    const running = this.#inFlight.get(key);
    if (running) return running;
    const call = run().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, call);
    return call;
  }

  /** Whether a call for `key` is running. */
  has(key: K): boolean {
    return this.#inFlight.has(key);
  }
}
