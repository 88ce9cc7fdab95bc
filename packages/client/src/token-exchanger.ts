import { exchangeCacheKey } from "./cache/cache-key.js";
import { LruCache } from "./cache/lru-cache.js";
import { SingleFlight } from "./cache/single-flight.js";
import { TokenExchangeError } from "./errors.js";
import type { ExchangeCall, ExchangeParams, ExchangeResult } from "./exchange-types.js";
import { callHook, type ExchangeHooks } from "./metrics-hooks.js";

/** Options of {@link TokenExchanger}. */
export interface TokenExchangerOptions {
  /** How to reach Tessera: {@link connectExchange} or {@link formExchange}. */
  call: ExchangeCall;
  /** Most tokens cached at once; the least recently used goes first (default 1000). */
  maxEntries?: number;
  /** A cached token is not handed out in its last `expiryMarginSeconds` (default 30). */
  expiryMarginSeconds?: number;
  /** In its last `refreshAheadSeconds` (default 60) a cached token is still served, and a new one fetched in the background. */
  refreshAheadSeconds?: number;
  /** Metrics callbacks. */
  hooks?: ExchangeHooks;
  /** Milliseconds since the epoch (default `Date.now`); for tests. */
  now?: () => number;
}

/** A cached exchange and when it stops being served. */
interface CacheEntry {
  result: ExchangeResult;
  expiresAtMs: number;
}

/**
 * Exchanges tokens (RFC 8693) and caches what Tessera issued, keyed by a hash of the request, until shortly
 * before expiry. Concurrent exchanges of the same request share one call; a refusal is never cached.
 */
export class TokenExchanger {
  readonly #call: ExchangeCall;
  readonly #cache: LruCache<string, CacheEntry>;
  readonly #flights = new SingleFlight<string, CacheEntry>();
  readonly #marginMs: number;
  readonly #refreshAheadMs: number;
  readonly #hooks: ExchangeHooks;
  readonly #now: () => number;

  constructor(options: TokenExchangerOptions) {
    this.#call = options.call;
    this.#cache = new LruCache(options.maxEntries ?? 1000);
    this.#marginMs = (options.expiryMarginSeconds ?? 30) * 1000;
    this.#refreshAheadMs = Math.max((options.refreshAheadSeconds ?? 60) * 1000, this.#marginMs);
    this.#hooks = options.hooks ?? {};
    this.#now = options.now ?? Date.now;
  }

  /** The token for `params`: from the cache when one is fresh enough, else from Tessera. */
  async exchange(params: ExchangeParams): Promise<ExchangeResult> {
    if (!params.subjectToken) {
      // RFC 8693 §2.1: subject_token is required; refused here rather than sent.
      throw new TokenExchangeError({ error: "invalid_request", errorDescription: "no subject token to exchange" });
    }
    const key = exchangeCacheKey(params);
    const now = this.#now();
    const cached = this.#cache.get(key);
    if (cached && cached.expiresAtMs - now > this.#marginMs) {
      callHook(this.#hooks.onCacheHit);
      if (cached.expiresAtMs - now <= this.#refreshAheadMs && !this.#flights.has(key)) {
        // Refresh ahead. Nobody awaits it: a refusal (say, a revoked subject) has dropped the entry in #fetch,
        // so the next caller exchanges and sees the refusal.
        this.#flights.do(key, () => this.#fetch(key, params, true)).catch(() => undefined);
      }
      return withRemaining(cached, now);
    }
    callHook(this.#hooks.onCacheMiss);
    const entry = await this.#flights.do(key, () => this.#fetch(key, params, false));
    return withRemaining(entry, this.#now());
  }

  /** Forgets every cached token. */
  clear(): void {
    this.#cache.clear();
  }

  /** How many tokens are cached. */
  get size(): number {
    return this.#cache.size;
  }

  async #fetch(key: string, params: ExchangeParams, background: boolean): Promise<CacheEntry> {
    const started = performance.now();
    try {
      const result = await this.#call(params);
      callHook(this.#hooks.onExchange, { durationMs: performance.now() - started, outcome: "ok", background });
      const entry = { result, expiresAtMs: this.#now() + result.expiresIn * 1000 };
      if (entry.expiresAtMs - this.#now() > this.#marginMs) this.#cache.set(key, entry);
      return entry;
    } catch (error) {
      const outcome = error instanceof TokenExchangeError ? error.error : "error";
      callHook(this.#hooks.onExchange, { durationMs: performance.now() - started, outcome, background });
      this.#cache.delete(key);
      throw error;
    }
  }
}

/** The cached result with `expiresIn` counted from `now`. */
function withRemaining(entry: CacheEntry, now: number): ExchangeResult {
  return { ...entry.result, expiresIn: Math.max(0, Math.floor((entry.expiresAtMs - now) / 1000)) };
}
