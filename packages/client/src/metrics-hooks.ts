/** How one exchange call to Tessera ended: `ok` or the OAuth `error` code. */
export type ExchangeOutcome = "ok" | string;

/**
 * Callbacks for metrics, with no metrics library behind them: count hits and misses, observe latency in a
 * histogram of your own. A hook that throws is ignored; it never fails an exchange.
 */
export interface ExchangeHooks {
  /** A token was served from the cache (no call to Tessera). */
  onCacheHit?(): void;
  /** No usable cached token: a call to Tessera was made or joined. */
  onCacheMiss?(): void;
  /** A call to Tessera ended, after `durationMs`. */
  onExchange?(event: { durationMs: number; outcome: ExchangeOutcome; background: boolean }): void;
}

/** Calls `hook` with `args`, ignoring what it throws. */
export function callHook<A extends unknown[]>(hook: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    hook?.(...args);
  } catch {
    // A metrics hook never breaks the exchange it observes.
  }
}
