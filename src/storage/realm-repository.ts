import type {
  AuditEvent,
  AuditEventKind,
  Client,
  IdentityProvider,
  IdentityProviderLink,
  RefreshTokenRecord,
  Realm,
  Scope,
  Session,
  SessionEndReason,
  SigningKey,
  User,
} from "../domain/index.js";

/** Everything a realm holds, as imported from a realm file in one piece. */
export interface RealmBundle {
  realm: Realm;
  clients: Client[];
  scopes: Scope[];
  users: User[];
  identityProviders: IdentityProvider[];
  /**
   * Users' links to identity providers that a realm file names (a migration's federated
   * identities). Not written by `importRealm`: `storeRealmLinks` (src/admin/realm-transfer.ts) adds
   * them once the realm, its providers and its users exist.
   */
  links?: RealmLink[];
}

/** A link a realm file names: a user of the realm and their id at an identity provider. */
export interface RealmLink {
  userId: string;
  alias: string;
  externalUserId: string;
}

/** One page of a listing, and the opaque token of the next page when there is one. */
export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/**
 * Paging of a listing: at most `pageSize` items (clamped to 1..1000) after the page `pageToken`
 * names (empty: the first page). Ties sort by id ascending; tokens stay valid when newer items
 * arrive and are specific to one adapter.
 */
export interface PageRequest {
  pageSize: number;
  pageToken?: string;
}

/** Filters of {@link RealmRepository.listSessions}; newest first. */
export interface SessionQuery extends PageRequest {
  userId?: string;
  /** Only sessions not ended and not expired at this time. */
  activeAt?: Date;
}

/** Filters of {@link RealmRepository.listUsers}; by username ascending. */
export interface UserQuery extends PageRequest {
  /** Only usernames starting with this. */
  usernamePrefix?: string;
  /** Only users with exactly this email. */
  email?: string;
  enabled?: boolean;
}

/** Filters of {@link RealmRepository.listEvents}; newest first. */
export interface EventQuery extends PageRequest {
  kind?: AuditEventKind;
  clientId?: string;
  subject?: string;
  result?: AuditEvent["result"];
  /** Inclusive lower bound of `time`. */
  since?: Date;
  /** Exclusive upper bound of `time`. */
  until?: Date;
}

/** A token issued by exchanging (or refreshing) another, for revocation cascades. */
export interface TokenLineage {
  parentJti: string;
  childJti: string;
  /** When the child expires; the record is useless after that. */
  expiresAt: Date;
}

/** Thrown when a page token is malformed or belongs to another listing. */
export class InvalidPageTokenError extends Error {
  override readonly name = "InvalidPageTokenError";
}

/** Thrown when an object with the same key already exists (unique realm name, client id, username...). */
export class StorageConflictError extends Error {
  override readonly name = "StorageConflictError";
}

/** Thrown when an update or delete names an object that does not exist. */
export class StorageNotFoundError extends Error {
  override readonly name = "StorageNotFoundError";
}

/** Thrown when the storage cannot be reached; callers answer `temporarily_unavailable`. */
export class StorageUnavailableError extends Error {
  override readonly name = "StorageUnavailableError";
}

/**
 * The one storage port of Tessera. Every method except the realm ones is scoped by realm;
 * adapters never return an object of another realm. Objects returned are copies: mutating them
 * changes nothing stored. (The configuration cache in front of an adapter returns frozen shared
 * objects instead: callers copy what they change.)
 *
 * Adapters: {@link MemoryRealmRepository} (embedded default) and {@link MongoRealmRepository}.
 * Both pass `test/storage/realm-repository.conformance.ts`.
 */
export interface RealmRepository {
  /** Creates a realm. Throws {@link StorageConflictError} if the name is taken. */
  createRealm(realm: Realm): Promise<void>;
  getRealm(name: string): Promise<Realm | undefined>;
  /** Every realm, sorted by name. */
  listRealms(): Promise<Realm[]>;
  /** Replaces a realm's settings. Throws {@link StorageNotFoundError}. */
  updateRealm(realm: Realm): Promise<void>;
  /**
   * Deletes a realm and everything scoped to it: clients, scopes, users, identity providers and
   * links, keys, used jtis, sessions, refresh tokens, lineage, revocations and audit events. Returns false if it did not exist.
   * (Writes of sessions, refresh tokens, lineage, revocations and events do not check that the realm
   * exists; such records are removed when a realm of that name is created.)
   */
  deleteRealm(name: string): Promise<boolean>;

  /**
   * Creates a realm with all its objects, all or nothing: afterwards either every object is
   * stored or none is, and a half-written realm is never visible to readers.
   * Throws {@link StorageConflictError} if the realm exists.
   */
  importRealm(bundle: RealmBundle): Promise<void>;

  /** Throws {@link StorageConflictError} on a duplicate client id, {@link StorageNotFoundError} on an unknown realm. */
  createClient(realm: string, client: Client): Promise<void>;
  getClient(realm: string, clientId: string): Promise<Client | undefined>;
  /** The client whose `resourceUris` contains `uri` (RFC 8707 resource indicator), if any. */
  findClientByResourceUri(realm: string, uri: string): Promise<Client | undefined>;
  /** The realm's clients sorted by client id. */
  listClients(realm: string): Promise<Client[]>;
  /** Throws {@link StorageNotFoundError}. */
  updateClient(realm: string, client: Client): Promise<void>;
  deleteClient(realm: string, clientId: string): Promise<boolean>;

  /** Throws {@link StorageConflictError} on a duplicate name, {@link StorageNotFoundError} on an unknown realm. */
  createScope(realm: string, scope: Scope): Promise<void>;
  getScope(realm: string, name: string): Promise<Scope | undefined>;
  /** The realm's scopes sorted by name. */
  listScopes(realm: string): Promise<Scope[]>;
  /** Throws {@link StorageNotFoundError}. */
  updateScope(realm: string, scope: Scope): Promise<void>;
  deleteScope(realm: string, name: string): Promise<boolean>;

  /** Throws {@link StorageConflictError} on a duplicate id or username, {@link StorageNotFoundError} on an unknown realm. */
  createUser(realm: string, user: User): Promise<void>;
  getUser(realm: string, id: string): Promise<User | undefined>;
  findUserByUsername(realm: string, username: string): Promise<User | undefined>;

  /** Replaces a user. Throws {@link StorageNotFoundError} (unknown user or realm), or {@link StorageConflictError} when the new username is taken. */
  updateUser(realm: string, user: User): Promise<void>;
  /** One page of the realm's users, sorted by username; page tokens name the last username. */
  listUsers(realm: string, query: UserQuery): Promise<Page<User>>;
  /** Deletes a user and its identity-provider links. Returns false if it did not exist. */
  deleteUser(realm: string, id: string): Promise<boolean>;

  /** Throws {@link StorageConflictError} on a duplicate alias, {@link StorageNotFoundError} on an unknown realm. */
  createIdentityProvider(realm: string, provider: IdentityProvider): Promise<void>;
  getIdentityProvider(realm: string, alias: string): Promise<IdentityProvider | undefined>;
  /** The realm's identity providers sorted by alias. */
  listIdentityProviders(realm: string): Promise<IdentityProvider[]>;
  /** Keeps the provider's links. Throws {@link StorageNotFoundError}. */
  updateIdentityProvider(realm: string, provider: IdentityProvider): Promise<void>;
  /** Deletes a provider and its links. */
  deleteIdentityProvider(realm: string, alias: string): Promise<boolean>;

  /**
   * Links a user to an external identity. Unique per (alias, externalUserId) and per (alias,
   * userId): a second link of either is a {@link StorageConflictError}, on every instance sharing
   * the storage, so two concurrent first logins of one external user make one link. Throws
   * {@link StorageNotFoundError} on an unknown realm or provider. The user need not exist yet: a first
   * login links before it creates the user, and removes the link with {@link deleteLink} if that fails.
   */
  createLink(realm: string, link: IdentityProviderLink): Promise<void>;
  findLink(realm: string, alias: string, externalUserId: string): Promise<IdentityProviderLink | undefined>;
  findLinkOfUser(realm: string, alias: string, userId: string): Promise<IdentityProviderLink | undefined>;
  /** Every link of a user, sorted by alias. */
  listLinksOfUser(realm: string, userId: string): Promise<IdentityProviderLink[]>;
  /**
   * Replaces the stored token of the link of `userId` at `alias` (last write wins); `undefined`
   * removes it. Throws {@link StorageNotFoundError} when the user has no link to that provider.
   */
  storeLinkToken(realm: string, alias: string, userId: string, token: IdentityProviderLink["storedToken"]): Promise<void>;
  /** Removes a link (e.g. after a failed first login). */
  deleteLink(realm: string, alias: string, externalUserId: string): Promise<boolean>;

  /** Stores a new signing key. Throws {@link StorageConflictError} on a duplicate kid. */
  addSigningKey(realm: string, key: SigningKey): Promise<void>;
  /** The realm's signing keys, newest first. */
  listSigningKeys(realm: string): Promise<SigningKey[]>;
  /**
   * Changes a key's state, and its `retireAt` (`undefined` removes it). Returns false when the realm
   * has no key `kid`. Last write wins: callers change the state of one key from one place (rotation).
   */
  updateSigningKeyState(realm: string, kid: string, state: SigningKey["state"], retireAt?: Date): Promise<boolean>;

  /** Stores a new session. Throws {@link StorageConflictError} on a duplicate id. */
  createSession(realm: string, session: Session): Promise<void>;
  getSession(realm: string, id: string): Promise<Session | undefined>;
  /**
   * Moves a session's `lastActiveAt` forward (never back). No effect on an ended session, or on one
   * already expired at `at`: an expired session is never revived.
   */
  touchSession(realm: string, id: string, at: Date): Promise<void>;
  /**
   * Ends a session. Returns false when it does not exist or had already ended (the first end wins);
   * an expired but not yet ended session can still be ended.
   */
  endSession(realm: string, id: string, at: Date, reason: SessionEndReason): Promise<boolean>;
  listSessions(realm: string, query: SessionQuery): Promise<Page<Session>>;

  /** Stores a new refresh token. Throws {@link StorageConflictError} on a duplicate hash or jti. */
  storeRefreshToken(realm: string, record: RefreshTokenRecord): Promise<void>;
  findRefreshToken(realm: string, tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Marks a refresh token used (rotated). Exactly one of any number of concurrent calls for the
   * same token returns true, on every instance sharing the storage; the others (and calls for an
   * unknown token) return false. Adapters must not rely on filtered updates being atomic
   * (FerretDB's are not): use inserts into unique indexes.
   */
  markRefreshTokenUsed(realm: string, tokenHash: string, at: Date): Promise<boolean>;

  /**
   * Records that `childJti` was issued from `parentJti`, then tells whether the parent is still
   * unrevoked. Recording first makes revocation cascades race-free: a revocation either finds the
   * child among the parent's children or is seen by this call.
   */
  recordLineage(realm: string, lineage: TokenLineage): Promise<boolean>;
  /** Tokens issued from `parentJti` that have not expired at `now`. */
  listChildTokens(realm: string, parentJti: string, now: Date): Promise<TokenLineage[]>;
  /** Marks a token revoked until `expiresAt`, when the record may be purged. Idempotent; a repeat keeps the later `expiresAt`. */
  revokeToken(realm: string, jti: string, expiresAt: Date): Promise<void>;
  /** Reads no clock: true from {@link revokeToken} until {@link purgeExpired} removes the record (after `expiresAt`). */
  isTokenRevoked(realm: string, jti: string): Promise<boolean>;

  /** Appends audit events (of any realms). */
  appendEvents(events: AuditEvent[]): Promise<void>;
  listEvents(realm: string, query: EventQuery): Promise<Page<AuditEvent>>;

  /**
   * Deletes what no longer matters at `now`: used jtis, revocations and lineage past their expiry,
   * refresh tokens past theirs, sessions that ended or expired more than a day ago, events older
   * than `eventsBefore`. Returns how many records went. Queries never depend on this having run.
   */
  purgeExpired(now: Date, eventsBefore: Date): Promise<number>;

  /**
   * Records that a one-time identifier (a client assertion's `jti`) was used. Returns true the
   * first time for a (realm, clientId, jti) and false on every later call until `expiresAt`
   * has passed, across every instance sharing the storage.
   */
  consumeJti(realm: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean>;

  /**
   * Claims the right to replace revision `revision` (an etag) of one object (`kind`, `key`) of a realm:
   * true for exactly one of any number of concurrent callers, on every instance sharing the storage;
   * false for the others and for later calls until `expiresAt` has passed. The compare-and-set of
   * admin updates: adapters must not rely on filtered updates being atomic (FerretDB's are not), so
   * this is an insert into a unique index. Does not check that the realm or object exists.
   */
  claimRevision(realm: string, kind: string, key: string, revision: string, expiresAt: Date): Promise<boolean>;

  /** Releases connections. */
  close(): Promise<void>;
}
