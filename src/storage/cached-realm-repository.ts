import type { Clock } from "../domain/index.js";
import type { RealmRepository } from "./realm-repository.js";

/** Reads of realm configuration that change rarely and are read on every request. */
const CACHED_READS = new Set<keyof RealmRepository>([
  "getRealm",
  "getClient",
  "getScope",
  "findClientByResourceUri",
  "getIdentityProvider",
  "listIdentityProviders",
]);

/** Writes that change what {@link CACHED_READS} answer; the realm is their first argument (or the realm's name). */
const CONFIGURATION_WRITES = new Set<keyof RealmRepository>([
  "createRealm",
  "updateRealm",
  "deleteRealm",
  "importRealm",
  "createClient",
  "updateClient",
  "deleteClient",
  "createScope",
  "updateScope",
  "deleteScope",
  "createIdentityProvider",
  "updateIdentityProvider",
  "deleteIdentityProvider",
]);

/** Options of {@link cacheConfiguration}. */
export interface ConfigurationCacheOptions {
  /** How long a read is served from the cache: the bound on how late another instance's change is seen. */
  ttlMs?: number;
  /** Most entries kept; the oldest go first. */
  maxEntries?: number;
}

interface Entry {
  at: number;
  value: Promise<unknown>;
}

/** Freezes `value` and the objects and arrays it holds (typed arrays cannot be frozen); returns it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/** The realm a write touches: its first argument, or the `name`/`realm.name` of the object it writes. */
function realmOfWrite(args: unknown[]): string {
  const first = args[0] as string | { name?: string; realm?: { name?: string } };
  return typeof first === "string" ? first : (first.realm?.name ?? first.name ?? "");
}

/**
 * A {@link RealmRepository} that serves the configuration reads of the token endpoint (realm,
 * clients, scopes, identity providers) from memory for `ttlMs` (default 5 s), so an exchange on
 * MongoDB storage makes no configuration round trip. Writes through this instance drop the
 * realm's entries at once; another instance's writes are seen within `ttlMs`. Everything else
 * (sessions, revocations, lineage, refresh tokens, jtis, events) always goes to storage. Cached
 * values are deeply frozen and shared by every caller: none can change what another reads.
 */
export function cacheConfiguration(repository: RealmRepository, clock: Clock, options: ConfigurationCacheOptions = {}): RealmRepository {
  const ttlMs = options.ttlMs ?? 5000;
  const maxEntries = options.maxEntries ?? 100_000;
  const entries = new Map<string, Entry>();
  const realmKeys = new Map<string, Set<string>>();

  const forget = (realm: string) => {
    for (const key of realmKeys.get(realm) ?? []) entries.delete(key);
    realmKeys.delete(realm);
  };

  const read = (target: RealmRepository, method: keyof RealmRepository, args: unknown[]): Promise<unknown> => {
    const key = JSON.stringify([method, ...args]);
    const now = clock.now().getTime();
    const cached = entries.get(key);
    if (cached && now - cached.at < ttlMs) return cached.value;
    const value = (target[method] as (...a: unknown[]) => Promise<unknown>).apply(target, args).then(deepFreeze);
    entries.delete(key);
    if (entries.size >= maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
    entries.set(key, { at: now, value });
    const realm = String(args[0]);
    let keys = realmKeys.get(realm);
    if (!keys) realmKeys.set(realm, (keys = new Set()));
    keys.add(key);
    // A failed read is not remembered.
    value.catch(() => {
      if (entries.get(key)?.value === value) entries.delete(key);
    });
    return value;
  };

  return new Proxy(repository, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string") return value;
      const method = property as keyof RealmRepository;
      if (CACHED_READS.has(method)) return (...args: unknown[]) => read(target, method, args);
      if (CONFIGURATION_WRITES.has(method)) {
        return async (...args: unknown[]) => {
          const realm = realmOfWrite(args);
          forget(realm);
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            forget(realm); // a read racing the write may have cached the old value
          }
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
