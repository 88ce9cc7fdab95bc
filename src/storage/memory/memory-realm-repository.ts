import { ComposedRealmRepository } from "../composed-realm-repository.js";
import { MemoryClientStore } from "./client-store.js";
import { MemoryEventStore } from "./event-store.js";
import { MemoryIdentityProviderStore } from "./identity-provider-store.js";
import { MemoryLinkStore } from "./link-store.js";
import { MemoryState } from "./memory-state.js";
import { MemoryOneTimeClaimStore } from "./one-time-claim-store.js";
import { MemoryRealmStore } from "./realm-store.js";
import { MemoryRefreshTokenStore } from "./refresh-token-store.js";
import { MemoryRevocationStore } from "./revocation-store.js";
import { MemoryScopeStore } from "./scope-store.js";
import { MemorySessionStore } from "./session-store.js";
import { MemorySigningKeyStore } from "./signing-key-store.js";
import { MemoryUserStore } from "./user-store.js";

/** Options of {@link MemoryRealmRepository}. */
export interface MemoryRealmRepositoryOptions {
  /**
   * Audit events kept per realm (default 10,000): the newest at least that many, the oldest dropped
   * in chunks of a tenth, so that a long load test on `npm start` does not grow the heap without end.
   */
  maxEventsPerRealm?: number;
}

/**
 * The embedded default {@link RealmRepository}: process memory, nothing persisted. For `npm start`,
 * development and fast tests. Every value goes in and out as a deep copy (`structuredClone`, then
 * `undefined`-valued properties dropped, as MongoDB's `ignoreUndefined` does). One store per aggregate
 * (in this folder) does the work, over one {@link MemoryState}.
 */
export class MemoryRealmRepository extends ComposedRealmRepository {
  constructor(options: MemoryRealmRepositoryOptions = {}) {
    const state = new MemoryState();
    super({
      realms: new MemoryRealmStore(state),
      clients: new MemoryClientStore(state),
      scopes: new MemoryScopeStore(state),
      users: new MemoryUserStore(state),
      identityProviders: new MemoryIdentityProviderStore(state),
      links: new MemoryLinkStore(state),
      signingKeys: new MemorySigningKeyStore(state),
      sessions: new MemorySessionStore(state),
      refreshTokens: new MemoryRefreshTokenStore(state),
      revocations: new MemoryRevocationStore(state),
      events: new MemoryEventStore(state, options.maxEventsPerRealm ?? 10_000),
      oneTimeClaims: new MemoryOneTimeClaimStore(state),
    });
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}
