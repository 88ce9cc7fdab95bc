import type { Client, Realm, Scope, SigningKey, User } from "../domain/index.js";

/** Everything a realm holds, as imported from a realm file in one piece. */
export interface RealmBundle {
  realm: Realm;
  clients: Client[];
  scopes: Scope[];
  users: User[];
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
 * changes nothing stored.
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
  /** Deletes a realm and everything scoped to it. Returns false if it did not exist. */
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

  /** Stores a new signing key. Throws {@link StorageConflictError} on a duplicate kid. */
  addSigningKey(realm: string, key: SigningKey): Promise<void>;
  /** The realm's signing keys, newest first. */
  listSigningKeys(realm: string): Promise<SigningKey[]>;

  /**
   * Records that a one-time identifier (a client assertion's `jti`) was used. Returns true the
   * first time for a (realm, clientId, jti) and false on every later call until `expiresAt`
   * has passed, across every instance sharing the storage.
   */
  consumeJti(realm: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean>;

  /** Releases connections. */
  close(): Promise<void>;
}
