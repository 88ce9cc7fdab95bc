import { createHash } from "node:crypto";
import type { Clock } from "../domain/index.js";
import { oauthError, type ClientAuthFailure } from "./errors.js";
import { sourceAddressKey } from "./source-address.js";

/** Settings of {@link AuthThrottle} (`--auth-throttle*`). */
export interface AuthThrottleSettings {
  /** Throttle at all (default true). */
  enabled: boolean;
  /** Failures of one (realm, client, source address) before back-off starts (default 5). */
  clientFailures: number;
  /** Failures from one source address, any realm or client, before back-off starts; 0: no such limit (default 20). */
  addressFailures: number;
  /** First back-off, doubled at each further failure, ms (default 1 s). */
  initialBackoffMs: number;
  /** Longest back-off, ms (default 5 min). */
  maxBackoffMs: number;
  /** A counter is forgotten this long after its last failure, ms (default 15 min). */
  windowMs: number;
}

/** The defaults of {@link AuthThrottleSettings}, as in the configuration reference. */
export const DEFAULT_AUTH_THROTTLE: AuthThrottleSettings = {
  enabled: true,
  clientFailures: 5,
  addressFailures: 20,
  initialBackoffMs: 1000,
  maxBackoffMs: 5 * 60_000,
  windowMs: 15 * 60_000,
};

/** Counters kept at most (least recently failed first out): bounds the memory an attacker can make Tessera use. */
export const MAX_THROTTLE_ENTRIES = 100_000;

/** Which credential an attempt presented: a client's (token endpoint) or an AdminService bearer token. */
export type CredentialKind = "client" | "admin_bearer";

/** One authentication attempt, as far as the throttle knows it before checking anything. */
export interface AuthAttempt {
  kind: CredentialKind;
  realm: string;
  /** The client the attempt claims to be (unverified); empty when it names none. */
  clientId: string;
  /** The peer address of the connection (see {@link sourceAddressKey}); undefined in-process. */
  sourceAddress: string | undefined;
}

/** Which counter refused an attempt: its (realm, client, address), or its address alone. */
export type ThrottleScope = "client_address" | "address";

/** What the throttle tells the metrics. */
export interface AuthThrottleObserver {
  /** An attempt failed (counted whether or not throttling is on). */
  authenticationFailed(realm: string, reason: ClientAuthFailure): void;
  /** An attempt was refused while throttled. */
  throttled(kind: CredentialKind, scope: ThrottleScope): void;
}

interface Counter {
  failures: number;
  lastFailureMs: number;
  blockedUntilMs: number;
}

/**
 * Throttles failed authentication (issue 13): per (credential kind, realm, client, source address)
 * and per source address, with exponential back-off once a threshold is passed. A client is never
 * throttled by its id alone, so failures from an attacker's address do not lock out the legitimate
 * client elsewhere. Counters live in this process (a bounded LRU map): each instance, and each
 * `--workers` worker, counts for itself.
 */
export class AuthThrottle {
  readonly #counters = new Map<string, Counter>();

  constructor(
    private readonly settings: AuthThrottleSettings,
    private readonly clock: Clock,
    private readonly observer?: AuthThrottleObserver,
    private readonly maxEntries = MAX_THROTTLE_ENTRIES,
  ) {}

  /**
   * Runs one authentication attempt under the throttle: refused with a throttled
   * `temporarily_unavailable` before `check` runs while the attempt's counters wait; else `check`
   * runs, and a failure (one `failureOf` names) is counted. An attempt whose counters came to wait
   * while it was checked (a burst of parallel guesses) is refused the same way whatever its outcome,
   * so no answer past the threshold tells a right credential from a wrong one.
   */
  async guard<T>(attempt: AuthAttempt, check: () => Promise<T>, failureOf: (error: unknown) => ClientAuthFailure | undefined): Promise<T> {
    const early = this.#retryAfterSeconds(attempt);
    // Issue 13: while throttled, refuse before any credential is checked.
    if (early !== undefined) throw oauthError.throttled(early);
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: await check() };
    } catch (error) {
      outcome = { error };
    }
    const late = this.#retryAfterSeconds(attempt);
    const failure = "error" in outcome ? failureOf(outcome.error) : undefined;
    if (failure !== undefined) this.#failed(attempt, failure);
    if (late !== undefined) throw oauthError.throttled(late);
    if ("error" in outcome) throw outcome.error;
    this.#succeeded(attempt);
    return outcome.value;
  }

  /** Seconds the caller must wait before this attempt is checked at all, or undefined when it may go ahead. */
  #retryAfterSeconds(attempt: AuthAttempt): number | undefined {
    if (!this.settings.enabled) return undefined;
    const now = this.clock.now().getTime();
    for (const [scope, key] of this.#keys(attempt)) {
      const counter = this.#counters.get(key);
      if (counter && counter.blockedUntilMs > now) {
        this.observer?.throttled(attempt.kind, scope);
        return Math.max(1, Math.ceil((counter.blockedUntilMs - now) / 1000));
      }
    }
    return undefined;
  }

  /** Counts a failed attempt; reaching a threshold blocks its counter for the next back-off, doubled at each further failure. */
  #failed(attempt: AuthAttempt, reason: ClientAuthFailure): void {
    this.observer?.authenticationFailed(attempt.realm, reason);
    if (!this.settings.enabled) return;
    const now = this.clock.now().getTime();
    for (const [scope, key] of this.#keys(attempt)) {
      const threshold = scope === "address" ? this.settings.addressFailures : this.settings.clientFailures;
      const known = this.#counters.get(key);
      const counter = known && now - known.lastFailureMs <= this.settings.windowMs ? known : { failures: 0, lastFailureMs: now, blockedUntilMs: 0 };
      counter.failures += 1;
      counter.lastFailureMs = now;
      if (counter.failures >= threshold) {
        const doublings = Math.min(counter.failures - threshold, 30);
        counter.blockedUntilMs = now + Math.min(this.settings.initialBackoffMs * 2 ** doublings, this.settings.maxBackoffMs);
      }
      // Re-inserted: the map's order is least recently failed first.
      this.#counters.delete(key);
      this.#counters.set(key, counter);
    }
    while (this.#counters.size > this.maxEntries) this.#counters.delete(this.#counters.keys().next().value as string);
  }

  /** A successful attempt forgets its (realm, client, address) counter; the address's stays. */
  #succeeded(attempt: AuthAttempt): void {
    if (!this.settings.enabled) return;
    this.#counters.delete(this.#keys(attempt)[0][1]);
  }

  /** The counters of an attempt, as fixed-size digests (a claimed client id may be long). */
  #keys(attempt: AuthAttempt): [ThrottleScope, string][] {
    const address = sourceAddressKey(attempt.sourceAddress);
    const digest = (...parts: string[]) => createHash("sha256").update(parts.join("\u0000")).digest("base64url");
    const keys: [ThrottleScope, string][] = [["client_address", digest(attempt.kind, attempt.realm, attempt.clientId, address)]];
    if (this.settings.addressFailures > 0) keys.push(["address", digest("address", address)]);
    return keys;
  }
}
