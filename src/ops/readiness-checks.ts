import type { RealmRepository } from "../storage/realm-repository.js";
import type { RealmKeyStore } from "../tokens/realm-keys.js";
import type { ReadinessCheck } from "./health.js";

/** A realm name no realm can have (realm names start with a letter or digit): the probe finds nothing. */
const PROBE_REALM = "__readiness__";

/**
 * Storage reachable: a cheap read that answers "no such realm" when the storage works and throws
 * `StorageUnavailableError` when it cannot be reached.
 */
export function storageReachableCheck(repository: RealmRepository): ReadinessCheck {
  return {
    name: "storage",
    run: async () => {
      await repository.getRealm(PROBE_REALM);
    },
  };
}

/**
 * Keys loaded: every realm's public key set read once (a wrong `TESSERA_MASTER_KEY` has stopped the
 * start before: see `prepareStorage` in serve.ts). A start-up condition: not run again once passed.
 */
export function keysLoadedCheck(repository: RealmRepository, keys: RealmKeyStore): ReadinessCheck {
  return {
    name: "keys",
    once: true,
    run: async () => {
      for (const realm of await repository.listRealms()) await keys.jwks(realm.name);
    },
  };
}
