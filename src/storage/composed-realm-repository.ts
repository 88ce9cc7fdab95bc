import type {
  AuditEvent,
  Client,
  IdentityProvider,
  IdentityProviderLink,
  Realm,
  RefreshTokenRecord,
  Scope,
  Session,
  SessionEndReason,
  SigningKey,
  User,
} from "../domain/index.js";
import type {
  EventQuery,
  Page,
  RealmBundle,
  RealmRepository,
  SessionQuery,
  TokenLineage,
  UserQuery,
} from "./realm-repository.js";

/** The realm methods of the port: realms themselves, and whole-realm import and delete. */
export type RealmStore = Pick<RealmRepository, "createRealm" | "getRealm" | "listRealms" | "updateRealm" | "deleteRealm" | "importRealm">;
/** The client methods of the port. */
export type ClientStore = Pick<
  RealmRepository,
  "createClient" | "getClient" | "findClientByResourceUri" | "listClients" | "updateClient" | "deleteClient"
>;
/** The scope methods of the port. */
export type ScopeStore = Pick<RealmRepository, "createScope" | "getScope" | "listScopes" | "updateScope" | "deleteScope">;
/** The user methods of the port. */
export type UserStore = Pick<
  RealmRepository,
  "createUser" | "getUser" | "findUserByUsername" | "updateUser" | "listUsers" | "deleteUser"
>;
/** The identity-provider methods of the port. */
export type IdentityProviderStore = Pick<
  RealmRepository,
  "createIdentityProvider" | "getIdentityProvider" | "listIdentityProviders" | "updateIdentityProvider" | "deleteIdentityProvider"
>;
/** The identity-provider link methods of the port. */
export type LinkStore = Pick<
  RealmRepository,
  "createLink" | "findLink" | "findLinkOfUser" | "listLinksOfUser" | "storeLinkToken" | "deleteLink"
>;
/** The signing-key methods of the port. */
export type SigningKeyStore = Pick<RealmRepository, "addSigningKey" | "listSigningKeys" | "updateSigningKeyState">;
/** The session methods of the port. */
export type SessionStore = Pick<RealmRepository, "createSession" | "getSession" | "touchSession" | "endSession" | "listSessions">;
/** The refresh-token methods of the port. */
export type RefreshTokenStore = Pick<RealmRepository, "storeRefreshToken" | "findRefreshToken" | "markRefreshTokenUsed">;
/** The lineage and revocation methods of the port (revocation cascades). */
export type RevocationStore = Pick<RealmRepository, "recordLineage" | "listChildTokens" | "revokeToken" | "isTokenRevoked">;
/** The audit-event methods of the port. */
export type EventStore = Pick<RealmRepository, "appendEvents" | "listEvents">;
/** The one-time claims of the port: used assertion jtis and claimed admin revisions. */
export type OneTimeClaimStore = Pick<RealmRepository, "consumeJti" | "claimRevision">;

/** A part that holds records which expire: its share of {@link RealmRepository.purgeExpired}. */
export interface ExpiringRecords {
  /** Deletes this part's records that no longer matter at `now`; returns how many went. */
  purgeExpired(now: Date, eventsBefore: Date): Promise<number>;
}

/** The pieces an adapter is made of, one per aggregate of the port. */
export interface RealmRepositoryParts {
  realms: RealmStore;
  clients: ClientStore;
  scopes: ScopeStore;
  users: UserStore;
  identityProviders: IdentityProviderStore;
  links: LinkStore;
  signingKeys: SigningKeyStore;
  sessions: SessionStore & ExpiringRecords;
  refreshTokens: RefreshTokenStore & ExpiringRecords;
  revocations: RevocationStore & ExpiringRecords;
  events: EventStore & ExpiringRecords;
  oneTimeClaims: OneTimeClaimStore & ExpiringRecords;
}

/**
 * A {@link RealmRepository} made of one store per aggregate: every method of the port goes to the
 * store of its aggregate, and {@link purgeExpired} sums the purges of the stores that hold expiring
 * records. Adapters extend it with how they open and close their storage.
 */
export abstract class ComposedRealmRepository implements RealmRepository {
  readonly #parts: RealmRepositoryParts;

  protected constructor(parts: RealmRepositoryParts) {
    this.#parts = parts;
  }

  createRealm(realm: Realm): Promise<void> {
    return this.#parts.realms.createRealm(realm);
  }
  getRealm(name: string): Promise<Realm | undefined> {
    return this.#parts.realms.getRealm(name);
  }
  listRealms(): Promise<Realm[]> {
    return this.#parts.realms.listRealms();
  }
  updateRealm(realm: Realm): Promise<void> {
    return this.#parts.realms.updateRealm(realm);
  }
  deleteRealm(name: string): Promise<boolean> {
    return this.#parts.realms.deleteRealm(name);
  }
  importRealm(bundle: RealmBundle): Promise<void> {
    return this.#parts.realms.importRealm(bundle);
  }

  createClient(realm: string, client: Client): Promise<void> {
    return this.#parts.clients.createClient(realm, client);
  }
  getClient(realm: string, clientId: string): Promise<Client | undefined> {
    return this.#parts.clients.getClient(realm, clientId);
  }
  findClientByResourceUri(realm: string, uri: string): Promise<Client | undefined> {
    return this.#parts.clients.findClientByResourceUri(realm, uri);
  }
  listClients(realm: string): Promise<Client[]> {
    return this.#parts.clients.listClients(realm);
  }
  updateClient(realm: string, client: Client): Promise<void> {
    return this.#parts.clients.updateClient(realm, client);
  }
  deleteClient(realm: string, clientId: string): Promise<boolean> {
    return this.#parts.clients.deleteClient(realm, clientId);
  }

  createScope(realm: string, scope: Scope): Promise<void> {
    return this.#parts.scopes.createScope(realm, scope);
  }
  getScope(realm: string, name: string): Promise<Scope | undefined> {
    return this.#parts.scopes.getScope(realm, name);
  }
  listScopes(realm: string): Promise<Scope[]> {
    return this.#parts.scopes.listScopes(realm);
  }
  updateScope(realm: string, scope: Scope): Promise<void> {
    return this.#parts.scopes.updateScope(realm, scope);
  }
  deleteScope(realm: string, name: string): Promise<boolean> {
    return this.#parts.scopes.deleteScope(realm, name);
  }

  createUser(realm: string, user: User): Promise<void> {
    return this.#parts.users.createUser(realm, user);
  }
  getUser(realm: string, id: string): Promise<User | undefined> {
    return this.#parts.users.getUser(realm, id);
  }
  findUserByUsername(realm: string, username: string): Promise<User | undefined> {
    return this.#parts.users.findUserByUsername(realm, username);
  }
  updateUser(realm: string, user: User): Promise<void> {
    return this.#parts.users.updateUser(realm, user);
  }
  listUsers(realm: string, query: UserQuery): Promise<Page<User>> {
    return this.#parts.users.listUsers(realm, query);
  }
  deleteUser(realm: string, id: string): Promise<boolean> {
    return this.#parts.users.deleteUser(realm, id);
  }

  createIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    return this.#parts.identityProviders.createIdentityProvider(realm, provider);
  }
  getIdentityProvider(realm: string, alias: string): Promise<IdentityProvider | undefined> {
    return this.#parts.identityProviders.getIdentityProvider(realm, alias);
  }
  listIdentityProviders(realm: string): Promise<IdentityProvider[]> {
    return this.#parts.identityProviders.listIdentityProviders(realm);
  }
  updateIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    return this.#parts.identityProviders.updateIdentityProvider(realm, provider);
  }
  deleteIdentityProvider(realm: string, alias: string): Promise<boolean> {
    return this.#parts.identityProviders.deleteIdentityProvider(realm, alias);
  }

  createLink(realm: string, link: IdentityProviderLink): Promise<void> {
    return this.#parts.links.createLink(realm, link);
  }
  findLink(realm: string, alias: string, externalUserId: string): Promise<IdentityProviderLink | undefined> {
    return this.#parts.links.findLink(realm, alias, externalUserId);
  }
  findLinkOfUser(realm: string, alias: string, userId: string): Promise<IdentityProviderLink | undefined> {
    return this.#parts.links.findLinkOfUser(realm, alias, userId);
  }
  listLinksOfUser(realm: string, userId: string): Promise<IdentityProviderLink[]> {
    return this.#parts.links.listLinksOfUser(realm, userId);
  }
  storeLinkToken(realm: string, alias: string, userId: string, token: IdentityProviderLink["storedToken"]): Promise<void> {
    return this.#parts.links.storeLinkToken(realm, alias, userId, token);
  }
  deleteLink(realm: string, alias: string, externalUserId: string): Promise<boolean> {
    return this.#parts.links.deleteLink(realm, alias, externalUserId);
  }

  addSigningKey(realm: string, key: SigningKey): Promise<void> {
    return this.#parts.signingKeys.addSigningKey(realm, key);
  }
  listSigningKeys(realm: string): Promise<SigningKey[]> {
    return this.#parts.signingKeys.listSigningKeys(realm);
  }
  updateSigningKeyState(realm: string, kid: string, state: SigningKey["state"], retireAt?: Date): Promise<boolean> {
    return this.#parts.signingKeys.updateSigningKeyState(realm, kid, state, retireAt);
  }

  createSession(realm: string, session: Session): Promise<void> {
    return this.#parts.sessions.createSession(realm, session);
  }
  getSession(realm: string, id: string): Promise<Session | undefined> {
    return this.#parts.sessions.getSession(realm, id);
  }
  touchSession(realm: string, id: string, at: Date): Promise<void> {
    return this.#parts.sessions.touchSession(realm, id, at);
  }
  endSession(realm: string, id: string, at: Date, reason: SessionEndReason): Promise<boolean> {
    return this.#parts.sessions.endSession(realm, id, at, reason);
  }
  listSessions(realm: string, query: SessionQuery): Promise<Page<Session>> {
    return this.#parts.sessions.listSessions(realm, query);
  }

  storeRefreshToken(realm: string, record: RefreshTokenRecord): Promise<void> {
    return this.#parts.refreshTokens.storeRefreshToken(realm, record);
  }
  findRefreshToken(realm: string, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return this.#parts.refreshTokens.findRefreshToken(realm, tokenHash);
  }
  markRefreshTokenUsed(realm: string, tokenHash: string, at: Date): Promise<boolean> {
    return this.#parts.refreshTokens.markRefreshTokenUsed(realm, tokenHash, at);
  }

  recordLineage(realm: string, lineage: TokenLineage): Promise<boolean> {
    return this.#parts.revocations.recordLineage(realm, lineage);
  }
  listChildTokens(realm: string, parentJti: string, now: Date): Promise<TokenLineage[]> {
    return this.#parts.revocations.listChildTokens(realm, parentJti, now);
  }
  revokeToken(realm: string, jti: string, expiresAt: Date): Promise<void> {
    return this.#parts.revocations.revokeToken(realm, jti, expiresAt);
  }
  isTokenRevoked(realm: string, jti: string): Promise<boolean> {
    return this.#parts.revocations.isTokenRevoked(realm, jti);
  }

  appendEvents(events: AuditEvent[]): Promise<void> {
    return this.#parts.events.appendEvents(events);
  }
  listEvents(realm: string, query: EventQuery): Promise<Page<AuditEvent>> {
    return this.#parts.events.listEvents(realm, query);
  }

  consumeJti(realm: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    return this.#parts.oneTimeClaims.consumeJti(realm, clientId, jti, expiresAt);
  }
  claimRevision(realm: string, kind: string, key: string, revision: string, expiresAt: Date): Promise<boolean> {
    return this.#parts.oneTimeClaims.claimRevision(realm, kind, key, revision, expiresAt);
  }

  /** The sum of the purges of sessions, refresh tokens, lineage and revocations, events and one-time claims. */
  async purgeExpired(now: Date, eventsBefore: Date): Promise<number> {
    const { sessions, refreshTokens, revocations, events, oneTimeClaims } = this.#parts;
    const purged = await Promise.all(
      [oneTimeClaims, revocations, refreshTokens, events, sessions].map((part) => part.purgeExpired(now, eventsBefore)),
    );
    return purged.reduce((sum, count) => sum + count, 0);
  }

  abstract close(): Promise<void>;
}
