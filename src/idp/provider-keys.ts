import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { Clock, IdentityProvider } from "../domain/index.js";
import { fetchProviderJson, ProviderUnavailableError } from "./provider-fetch.js";

/** What an administrator sees of a provider's key fetching. */
export interface ProviderKeyHealth {
  lastSuccess?: Date;
  lastError?: string;
  lastErrorAt?: Date;
  keyIds: string[];
}

/** Options of {@link ProviderKeyCache}; all durations in milliseconds. */
export interface ProviderKeyCacheOptions {
  /** Keys older than this are fetched again. */
  maxAgeMs?: number;
  /** At most one fetch per provider in this window (unknown `kid`s included). */
  cooldownMs?: number;
  /** Keys this old are still used while the provider cannot be reached; older ones are not. */
  staleForMs?: number;
}

interface CacheEntry {
  jwks?: JSONWebKeySet;
  getKey?: JWTVerifyGetKey;
  fetchedAt: number;
  lastAttempt: number;
  health: ProviderKeyHealth;
  refreshing?: Promise<void>;
}

/**
 * Signing keys of identity providers: inline JWKS, or fetched from the configured `jwksUri` or
 * the `jwks_uri` of the issuer's OpenID discovery document, never from an address a token names
 * (`jku`, `x5u`, embedded `jwk` are ignored). Fetched keys are cached, fetched again when old or on
 * an unknown `kid` (at most once per cool-down), and served stale for a bounded time while the
 * provider is down; after that, verification is `temporarily_unavailable`.
 */
export class ProviderKeyCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #options: Required<ProviderKeyCacheOptions>;

  constructor(
    private readonly clock: Clock,
    options: ProviderKeyCacheOptions = {},
  ) {
    this.#options = { maxAgeMs: 600_000, cooldownMs: 30_000, staleForMs: 3_600_000, ...options };
  }

  /** A key resolver for `jwtVerify` over the provider's keys. */
  resolver(realm: string, provider: IdentityProvider): JWTVerifyGetKey {
    if (provider.jwks) return createLocalJWKSet(provider.jwks as JSONWebKeySet);
    const key = `${realm}\u0000${provider.alias}\u0000${provider.jwksUri ?? provider.issuer}`;
    return async (header, token) => {
      const entry = await this.#fresh(key, provider);
      try {
        if (!entry.getKey) throw new errors.JWKSNoMatchingKey();
        return await entry.getKey(header, token);
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
        // An unknown kid: the provider may have rotated; look again, at most once per cool-down.
        if (this.clock.now().getTime() - entry.lastAttempt < this.#options.cooldownMs) throw error;
        await this.#refresh(entry, provider);
        if (!entry.getKey) throw error;
        return entry.getKey(header, token);
      }
    };
  }

  /** Key-fetch health of a provider, for the AdminService. */
  health(realm: string, provider: IdentityProvider): ProviderKeyHealth {
    if (provider.jwks) return { keyIds: provider.jwks.keys.map((k) => String(k.kid ?? "")) };
    const entry = this.#entries.get(`${realm}\u0000${provider.alias}\u0000${provider.jwksUri ?? provider.issuer}`);
    return entry ? { ...entry.health, keyIds: [...entry.health.keyIds] } : { keyIds: [] };
  }

  async #fresh(key: string, provider: IdentityProvider): Promise<CacheEntry> {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { fetchedAt: 0, lastAttempt: 0, health: { keyIds: [] } };
      this.#entries.set(key, entry);
    }
    // A fetch already in flight (a burst right after start, or a rotation) is waited for, not raced.
    if (entry.refreshing) await entry.refreshing.catch(() => undefined);
    const now = this.clock.now().getTime();
    const old = now - entry.fetchedAt > this.#options.maxAgeMs;
    if (old && now - entry.lastAttempt >= this.#options.cooldownMs) {
      try {
        await this.#refresh(entry, provider);
      } catch (error) {
        if (!(error instanceof ProviderUnavailableError)) throw error;
      }
    }
    if (!entry.jwks || now - entry.fetchedAt > this.#options.staleForMs) {
      throw new ProviderUnavailableError(entry.health.lastError ?? "identity provider keys unavailable");
    }
    return entry;
  }

  /** Fetches the keys once; concurrent callers share the fetch. */
  #refresh(entry: CacheEntry, provider: IdentityProvider): Promise<void> {
    entry.refreshing ??= (async () => {
      entry.lastAttempt = this.clock.now().getTime();
      try {
        const jwks = await fetchJwks(provider);
        entry.jwks = jwks;
        entry.getKey = createLocalJWKSet(jwks);
        entry.fetchedAt = this.clock.now().getTime();
        entry.health = { ...entry.health, lastSuccess: this.clock.now(), keyIds: jwks.keys.map((k) => String(k.kid ?? "")) };
      } catch (error) {
        entry.health = { ...entry.health, lastError: (error as Error).message, lastErrorAt: this.clock.now() };
        throw error;
      } finally {
        entry.refreshing = undefined;
      }
    })();
    return entry.refreshing;
  }
}

/** Fetches a provider's JWKS from its `jwksUri`, or from the `jwks_uri` its discovery document names. */
async function fetchJwks(provider: IdentityProvider): Promise<JSONWebKeySet> {
  const uri = provider.jwksUri ?? (await discoverJwksUri(provider));
  const body = await fetchProviderJson("jwks", uri, { headers: { accept: "application/json" } });
  if (typeof body !== "object" || body === null || !Array.isArray((body as JSONWebKeySet).keys)) {
    throw new ProviderUnavailableError(`${new URL(uri).origin} answered something that is not a JWK Set`);
  }
  return body as JSONWebKeySet;
}

/** OpenID Connect Discovery 1.0 §4: the document's `issuer` must be the configured issuer. */
async function discoverJwksUri(provider: IdentityProvider): Promise<string> {
  const url = `${provider.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const document = (await fetchProviderJson("discovery", url)) as { issuer?: unknown; jwks_uri?: unknown } | null;
  const jwksUri = document?.jwks_uri;
  if (document?.issuer !== provider.issuer || typeof jwksUri !== "string" || !URL.canParse(jwksUri)) {
    throw new ProviderUnavailableError(`${new URL(url).origin} discovery document does not match the issuer`);
  }
  return jwksUri;
}
