import {
  MongoClient,
  MongoClientClosedError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type Collection,
  type Db,
  type Filter,
  type UpdateFilter,
} from "mongodb";
import {
  isSessionActive,
  sessionExpiresAt,
  type AuditEvent,
  type ClaimMapping,
  type Client,
  type IdentityProvider,
  type IdentityProviderLink,
  type StoredProviderToken,
  type Realm,
  type RefreshTokenRecord,
  type Scope,
  type Session,
  type SessionEndReason,
  type SigningKey,
  type User,
} from "../../domain/index.js";
import {
  StorageConflictError,
  StorageNotFoundError,
  StorageUnavailableError,
  type EventQuery,
  type Page,
  type RealmBundle,
  type RealmRepository,
  type SessionQuery,
  type TokenLineage,
  type UserQuery,
} from "../realm-repository.js";
import {
  decodeKeyPageToken,
  decodePageToken,
  encodeKeyPageToken,
  pageOf,
  pageSizeOf,
  type PageCursor,
  eventPageShape,
  sessionPageShape,
  userPageShape,
} from "../paging.js";
import { GroupCommit } from "../group-commit.js";

/**
 * A realm document is hidden from readers while `_state` is set: during {@link MongoRealmRepository.importRealm}
 * and {@link MongoRealmRepository.deleteRealm}, which stand in for transactions (FerretDB has none).
 */
type RealmDoc = Realm & { _state?: "importing" | "deleting" };
/** Every other document carries the name of its realm. */
type Scoped<T> = T & { realm: string };
/**
 * User attributes are stored as `{ name, values }` entries: attribute names may hold `.` or start with `$`,
 * which FerretDB rejects as field names.
 */
type UserDoc = Scoped<Omit<User, "attributes"> & { attributes: { name: string; values: string[] }[] }>;
/**
 * An identity provider. Its user data with free-form keys is kept out of field names (FerretDB rejects
 * names holding `.` or starting with `$`): `jwks` is stored as JSON text, and the claim mapping's
 * `attributes` as `{ name, value }` entries (user attribute name -> claim name). Conditions are already
 * an array of `{ name, expression }`.
 */
type IdentityProviderDoc = Scoped<
  Omit<IdentityProvider, "jwks" | "claims"> & {
    jwks?: string;
    claims: Omit<ClaimMapping, "attributes"> & { attributes: { name: string; value: string }[] };
  }
>;
/**
 * A link; unique per (realm, alias, externalUserId) and per (realm, alias, userId), so of concurrent
 * first logins one insert wins. Only `storedToken` is ever updated.
 */
type LinkDoc = Scoped<IdentityProviderLink>;
type UsedJtiDoc = { realm: string; clientId: string; jti: string; expiresAt: Date };
/** A claimed revision of an object; unique per (realm, kind, key, revision): the first insert wins. */
type RevisionClaimDoc = { realm: string; kind: string; key: string; revision: string; expiresAt: Date };

/*
 * FerretDB 1.24 does not apply an update atomically with its filter: N concurrent `updateOne`s (or
 * `findOneAndUpdate`s) filtered on `usedAt: { $exists: false }` may all match and all report a
 * modification, and concurrent updates of one document rewrite it whole, losing each other's fields.
 * Inserts into a unique index and `deleteOne` are atomic. So every "first one wins" here is an insert
 * into a unique index, and the documents it guards are never updated concurrently:
 * - a session's end is a `session_ends` document, never a field of the session document (which only
 *   `touchSession` updates);
 * - a refresh token's use is a `refresh_token_uses` document; the token document is never updated.
 * Readers merge the two.
 */

/**
 * A session without its end, plus `expiresAt` = {@link sessionExpiresAt}, kept current by
 * {@link MongoRealmRepository.touchSession} so that listings filter on it.
 */
type SessionDoc = Scoped<Omit<Session, "endedAt" | "endReason">> & { expiresAt: Date };
/** The end of a session; unique per (realm, sessionId): the first insert wins. */
type SessionEndDoc = { realm: string; sessionId: string; endedAt: Date; endReason?: SessionEndReason };
/**
 * A refresh token without its use. `act` is stored as JSON text: its keys are JWT claim names, which
 * FerretDB would reject as field names if they held `.` or started with `$`.
 */
type RefreshTokenDoc = Scoped<Omit<RefreshTokenRecord, "act" | "usedAt">> & { act?: string };
/** The use of a refresh token; unique per (realm, tokenHash): the first insert wins. */
type RefreshTokenUseDoc = { realm: string; tokenHash: string; usedAt: Date; expiresAt: Date };
type LineageDoc = Scoped<TokenLineage>;
/** A lineage record waiting in the group commit, with its realm. */
type ScopedLineage = { realm: string; lineage: TokenLineage };
type RevocationDoc = { realm: string; jti: string; expiresAt: Date };

/** Options of {@link MongoRealmRepository.connect}. */
export interface MongoRealmRepositoryOptions {
  /** Database name; defaults to the URI's path, else `tessera`. */
  dbName?: string;
  /**
   * How long connecting, and later each operation, waits for a reachable server before failing with
   * {@link StorageUnavailableError}. Default 5000.
   */
  serverSelectionTimeoutMS?: number;
}

const VISIBLE = { _state: { $exists: false } } as const;
const HIDDEN_FIELDS = { _id: 0, realm: 0 } as const;
/** Collections of objects scoped to a realm (everything but `realms`). */
const REALM_OBJECT_COLLECTIONS = [
  "clients",
  "scopes",
  "users",
  "identity_providers",
  "identity_provider_links",
  "signing_keys",
  "used_jtis",
  "sessions",
  "session_ends",
  "refresh_tokens",
  "refresh_token_uses",
  "token_lineage",
  "revoked_tokens",
  "audit_events",
  "revision_claims",
] as const;
/** Sessions that ended or expired longer ago than this are purged. */
const SESSION_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Most ids in one `$in` of {@link MongoRealmRepository.purgeExpired}. */
const PURGE_BATCH = 500;
const JTI_SWEEP_INTERVAL_MS = 60_000;
/** Server error codes that mean "no usable server right now" (shutdown, step-down, network). */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);

/**
 * The MongoDB {@link RealmRepository}, on the official driver. Runs on MongoDB 6+ and FerretDB 1.24: it uses
 * no transactions, no TTL indexes and no aggregation. Uniqueness comes from unique indexes created by
 * {@link MongoRealmRepository.connect}; every query of a realm's objects filters by realm.
 */
export class MongoRealmRepository implements RealmRepository {
  readonly #client: MongoClient;
  readonly #db: Db;
  readonly #hosts: string;
  readonly #realms: Collection<RealmDoc>;
  readonly #clients: Collection<Scoped<Client>>;
  readonly #scopes: Collection<Scoped<Scope>>;
  readonly #users: Collection<UserDoc>;
  readonly #providers: Collection<IdentityProviderDoc>;
  readonly #links: Collection<LinkDoc>;
  readonly #keys: Collection<Scoped<SigningKey>>;
  readonly #usedJtis: Collection<UsedJtiDoc>;
  readonly #sessions: Collection<SessionDoc>;
  readonly #sessionEnds: Collection<SessionEndDoc>;
  readonly #refreshTokens: Collection<RefreshTokenDoc>;
  readonly #refreshTokenUses: Collection<RefreshTokenUseDoc>;
  readonly #lineage: Collection<LineageDoc>;
  readonly #revocations: Collection<RevocationDoc>;
  readonly #events: Collection<AuditEvent>;
  readonly #revisionClaims: Collection<RevisionClaimDoc>;
  /** Concurrent exchanges share the two round trips of {@link recordLineage}: see {@link GroupCommit}. */
  readonly #lineageCommit = new GroupCommit<ScopedLineage, boolean>((items) => this.#call(() => this.#recordLineages(items)));
  #nextJtiSweep = 0;
  #jtiSweep: Promise<void> = Promise.resolve();

  private constructor(client: MongoClient, db: Db, hosts: string) {
    this.#client = client;
    this.#db = db;
    this.#hosts = hosts;
    this.#realms = db.collection("realms");
    this.#clients = db.collection("clients");
    this.#scopes = db.collection("scopes");
    this.#users = db.collection("users");
    this.#providers = db.collection("identity_providers");
    this.#links = db.collection("identity_provider_links");
    this.#keys = db.collection("signing_keys");
    this.#usedJtis = db.collection("used_jtis");
    this.#sessions = db.collection("sessions");
    this.#sessionEnds = db.collection("session_ends");
    this.#refreshTokens = db.collection("refresh_tokens");
    this.#refreshTokenUses = db.collection("refresh_token_uses");
    this.#lineage = db.collection("token_lineage");
    this.#revocations = db.collection("revoked_tokens");
    this.#events = db.collection("audit_events");
    this.#revisionClaims = db.collection("revision_claims");
  }

  /**
   * Connects, pings and creates the indexes. Rejects with {@link StorageUnavailableError} (naming the
   * host:port, never the credentials) when no server answers within `serverSelectionTimeoutMS`.
   */
  static async connect(uri: string, options: MongoRealmRepositoryOptions = {}): Promise<MongoRealmRepository> {
    const hosts = hostsOf(uri);
    let client: MongoClient | undefined;
    try {
      client = new MongoClient(uri, {
        serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
        ignoreUndefined: true,
        appName: "tessera",
      });
      await client.connect();
      const db = client.db(options.dbName ?? dbNameOf(uri) ?? "tessera");
      await db.command({ ping: 1 });
      const repo = new MongoRealmRepository(client, db, hosts);
      await repo.#createIndexes();
      return repo;
    } catch (error) {
      await client?.close().catch(() => {});
      const message = redact(error instanceof Error ? error.message : String(error), uri);
      if (isUnavailable(error)) throw new StorageUnavailableError(`MongoDB at ${hosts} is unavailable: ${message}`);
      throw new Error(`MongoDB at ${hosts}: ${message}`);
    }
  }

  async #createIndexes(): Promise<void> {
    await Promise.all([
      this.#realms.createIndex({ name: 1 }, { unique: true }),
      this.#clients.createIndex({ realm: 1, clientId: 1 }, { unique: true }),
      this.#clients.createIndex({ realm: 1, resourceUris: 1 }),
      this.#scopes.createIndex({ realm: 1, name: 1 }, { unique: true }),
      this.#users.createIndex({ realm: 1, id: 1 }, { unique: true }),
      this.#users.createIndex({ realm: 1, username: 1 }, { unique: true }),
      this.#providers.createIndex({ realm: 1, alias: 1 }, { unique: true }),
      this.#links.createIndex({ realm: 1, alias: 1, externalUserId: 1 }, { unique: true }),
      this.#links.createIndex({ realm: 1, alias: 1, userId: 1 }, { unique: true }),
      this.#links.createIndex({ realm: 1, userId: 1 }),
      this.#keys.createIndex({ realm: 1, kid: 1 }, { unique: true }),
      this.#usedJtis.createIndex({ realm: 1, clientId: 1, jti: 1 }, { unique: true }),
      this.#usedJtis.createIndex({ expiresAt: 1 }),
      this.#sessions.createIndex({ realm: 1, id: 1 }, { unique: true }),
      this.#sessions.createIndex({ realm: 1, userId: 1, startedAt: 1 }),
      this.#sessions.createIndex({ expiresAt: 1 }),
      this.#sessionEnds.createIndex({ realm: 1, sessionId: 1 }, { unique: true }),
      this.#sessionEnds.createIndex({ endedAt: 1 }),
      this.#refreshTokens.createIndex({ realm: 1, tokenHash: 1 }, { unique: true }),
      this.#refreshTokens.createIndex({ realm: 1, jti: 1 }, { unique: true }),
      this.#refreshTokens.createIndex({ realm: 1, sessionId: 1 }),
      this.#refreshTokens.createIndex({ expiresAt: 1 }),
      this.#refreshTokenUses.createIndex({ realm: 1, tokenHash: 1 }, { unique: true }),
      this.#refreshTokenUses.createIndex({ expiresAt: 1 }),
      this.#lineage.createIndex({ realm: 1, parentJti: 1 }),
      this.#lineage.createIndex({ expiresAt: 1 }),
      this.#revocations.createIndex({ realm: 1, jti: 1 }, { unique: true }),
      this.#revocations.createIndex({ expiresAt: 1 }),
      this.#events.createIndex({ realm: 1, time: 1, id: 1 }),
      this.#events.createIndex({ time: 1 }),
      this.#revisionClaims.createIndex({ realm: 1, kind: 1, key: 1, revision: 1 }, { unique: true }),
      this.#revisionClaims.createIndex({ expiresAt: 1 }),
    ]);
  }

  async createRealm(realm: Realm): Promise<void> {
    await this.importRealm({ realm, clients: [], scopes: [], users: [], identityProviders: [] });
  }

  async getRealm(name: string): Promise<Realm | undefined> {
    return this.#call(async () => {
      const doc = await this.#realms.findOne<Realm>({ name, ...VISIBLE }, { projection: { _id: 0, _state: 0 } });
      return doc ?? undefined;
    });
  }

  async listRealms(): Promise<Realm[]> {
    return this.#call(() =>
      this.#realms.find<Realm>(VISIBLE, { projection: { _id: 0, _state: 0 } }).sort({ name: 1 }).toArray(),
    );
  }

  async updateRealm(realm: Realm): Promise<void> {
    const result = await this.#call(() => this.#realms.replaceOne({ name: realm.name, ...VISIBLE }, { ...realm }));
    if (result.matchedCount === 0) throw new StorageNotFoundError(`realm ${realm.name} not found`);
  }

  /**
   * Hides the realm, deletes its objects, then the realm document itself. If that is interrupted the
   * realm stays hidden and its name taken until `deleteRealm` runs again.
   */
  async deleteRealm(name: string): Promise<boolean> {
    return this.#call(async () => {
      const hidden = await this.#realms.updateOne({ name }, { $set: { _state: "deleting" } });
      if (hidden.matchedCount === 0) return false;
      await this.#deleteObjectsOf(name);
      await this.#realms.deleteOne({ name });
      return true;
    });
  }

  /**
   * All or nothing without transactions: the realm document is inserted hidden (which also claims the
   * name), leftovers of an interrupted delete of the same name are removed, the objects are inserted,
   * and only then is the realm made visible. On any failure everything of the realm is deleted again.
   * Objects of a hidden realm are reachable only by callers that skip {@link getRealm}.
   */
  async importRealm(bundle: RealmBundle): Promise<void> {
    const name = bundle.realm.name;
    await this.#call(
      () => this.#realms.insertOne({ ...bundle.realm, _state: "importing" }),
      `realm ${name} already exists`,
    );
    try {
      await this.#deleteObjectsOf(name);
      const scoped = <T>(items: T[]) => items.map((item) => ({ ...item, realm: name }));
      const conflict = (what: string) => `the bundle of realm ${name} holds a duplicate ${what}`;
      if (bundle.clients.length > 0) {
        await this.#call(() => this.#clients.insertMany(scoped(bundle.clients)), conflict("client id"));
      }
      if (bundle.scopes.length > 0) {
        await this.#call(() => this.#scopes.insertMany(scoped(bundle.scopes)), conflict("scope name"));
      }
      if (bundle.users.length > 0) {
        const users = bundle.users.map((user) => toUserDoc(name, user));
        await this.#call(() => this.#users.insertMany(users), conflict("user id or username"));
      }
      if (bundle.identityProviders.length > 0) {
        const providers = bundle.identityProviders.map((provider) => toProviderDoc(name, provider));
        await this.#call(() => this.#providers.insertMany(providers), conflict("identity provider alias"));
      }
      const shown = await this.#call(() =>
        this.#realms.updateOne({ name, _state: "importing" }, { $unset: { _state: "" } }),
      );
      if (shown.matchedCount === 0) throw new StorageConflictError(`realm ${name} was deleted during its import`);
    } catch (error) {
      await this.#deleteObjectsOf(name)
        .then(() => this.#realms.deleteOne({ name, _state: "importing" }))
        .catch(() => {}); // the realm stays hidden; deleteRealm clears it
      throw this.#translate(error);
    }
  }

  async createClient(realm: string, client: Client): Promise<void> {
    await this.#requireRealm(realm);
    await this.#call(
      () => this.#clients.insertOne({ ...client, realm }),
      `client ${client.clientId} already exists in realm ${realm}`,
    );
  }

  async getClient(realm: string, clientId: string): Promise<Client | undefined> {
    return this.#call(async () => {
      const found = await this.#clients.findOne<Client>({ realm, clientId }, { projection: HIDDEN_FIELDS });
      return found ?? undefined;
    });
  }

  async findClientByResourceUri(realm: string, uri: string): Promise<Client | undefined> {
    return this.#call(async () => {
      const found = await this.#clients.findOne<Client>(
        { realm, resourceUris: uri },
        { projection: HIDDEN_FIELDS, sort: { clientId: 1 } },
      );
      return found ?? undefined;
    });
  }

  async listClients(realm: string): Promise<Client[]> {
    return this.#call(() =>
      this.#clients.find<Client>({ realm }, { projection: HIDDEN_FIELDS }).sort({ clientId: 1 }).toArray(),
    );
  }

  async updateClient(realm: string, client: Client): Promise<void> {
    const result = await this.#call(() =>
      this.#clients.replaceOne({ realm, clientId: client.clientId }, { ...client, realm }),
    );
    if (result.matchedCount === 0) {
      throw new StorageNotFoundError(`client ${client.clientId} not found in realm ${realm}`);
    }
  }

  async deleteClient(realm: string, clientId: string): Promise<boolean> {
    return this.#call(async () => (await this.#clients.deleteOne({ realm, clientId })).deletedCount === 1);
  }

  async createScope(realm: string, scope: Scope): Promise<void> {
    await this.#requireRealm(realm);
    await this.#call(
      () => this.#scopes.insertOne({ ...scope, realm }),
      `scope ${scope.name} already exists in realm ${realm}`,
    );
  }

  async getScope(realm: string, name: string): Promise<Scope | undefined> {
    return this.#call(
      async () => (await this.#scopes.findOne<Scope>({ realm, name }, { projection: HIDDEN_FIELDS })) ?? undefined,
    );
  }

  async listScopes(realm: string): Promise<Scope[]> {
    return this.#call(() =>
      this.#scopes.find<Scope>({ realm }, { projection: HIDDEN_FIELDS }).sort({ name: 1 }).toArray(),
    );
  }

  async updateScope(realm: string, scope: Scope): Promise<void> {
    const result = await this.#call(() => this.#scopes.replaceOne({ realm, name: scope.name }, { ...scope, realm }));
    if (result.matchedCount === 0) throw new StorageNotFoundError(`scope ${scope.name} not found in realm ${realm}`);
  }

  async deleteScope(realm: string, name: string): Promise<boolean> {
    return this.#call(async () => (await this.#scopes.deleteOne({ realm, name })).deletedCount === 1);
  }

  async createUser(realm: string, user: User): Promise<void> {
    await this.#requireRealm(realm);
    await this.#call(
      () => this.#users.insertOne(toUserDoc(realm, user)),
      `user ${user.id} or username ${user.username} already exists in realm ${realm}`,
    );
  }

  async getUser(realm: string, id: string): Promise<User | undefined> {
    return this.#findUser({ realm, id });
  }

  async findUserByUsername(realm: string, username: string): Promise<User | undefined> {
    return this.#findUser({ realm, username });
  }

  async #findUser(filter: { realm: string; id?: string; username?: string }): Promise<User | undefined> {
    return this.#call(async () => {
      const doc = await this.#users.findOne<Omit<UserDoc, "realm">>(filter, { projection: HIDDEN_FIELDS });
      return doc ? fromUserDoc(doc) : undefined;
    });
  }

  /** Throws {@link StorageConflictError} when the new username is another user's (the unique index says so). */
  async updateUser(realm: string, user: User): Promise<void> {
    const result = await this.#call(
      () => this.#users.replaceOne({ realm, id: user.id }, toUserDoc(realm, user)),
      `username ${user.username} is taken in realm ${realm}`,
    );
    if (result.matchedCount === 0) throw new StorageNotFoundError(`user ${user.id} not found in realm ${realm}`);
  }

  /**
   * Sorted by the unique (realm, username) index; the prefix is a range on it (no regular
   * expression), the page token's username a strict lower bound.
   */
  async listUsers(realm: string, query: UserQuery): Promise<Page<User>> {
    const { usernamePrefix, email, enabled } = query;
    const shape = userPageShape(realm, query);
    const after = decodeKeyPageToken(shape, query.pageToken);
    const size = pageSizeOf(query);
    const range: Record<string, string> = {};
    if (usernamePrefix) Object.assign(range, { $gte: usernamePrefix, $lt: `${usernamePrefix}\u{10FFFF}` });
    if (after !== undefined) range.$gt = after;
    const filter: Filter<UserDoc> = { realm };
    if (Object.keys(range).length > 0) filter.username = range;
    if (email !== undefined) filter.email = email;
    if (enabled !== undefined) filter.enabled = enabled;
    const docs = await this.#call(() =>
      this.#users.find<Omit<UserDoc, "realm">>(filter, { projection: HIDDEN_FIELDS }).sort({ username: 1 }).limit(size + 1).toArray(),
    );
    const users = docs.map(fromUserDoc);
    if (users.length <= size) return { items: users };
    const page = users.slice(0, size);
    return { items: page, nextPageToken: encodeKeyPageToken(shape, page[page.length - 1].username) };
  }

  /** Deletes the user, then its links (a link made meanwhile for a user that is gone is harmless: it names no user). */
  async deleteUser(realm: string, id: string): Promise<boolean> {
    return this.#call(async () => {
      const deleted = await this.#users.deleteOne({ realm, id });
      await this.#links.deleteMany({ realm, userId: id });
      return deleted.deletedCount === 1;
    });
  }

  async createIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    await this.#requireRealm(realm);
    await this.#call(
      () => this.#providers.insertOne(toProviderDoc(realm, provider)),
      `identity provider ${provider.alias} already exists in realm ${realm}`,
    );
  }

  async getIdentityProvider(realm: string, alias: string): Promise<IdentityProvider | undefined> {
    return this.#call(async () => {
      const doc = await this.#providers.findOne<IdentityProviderDoc>({ realm, alias }, { projection: HIDDEN_FIELDS });
      return doc ? fromProviderDoc(doc) : undefined;
    });
  }

  async listIdentityProviders(realm: string): Promise<IdentityProvider[]> {
    return this.#call(async () => {
      const docs = await this.#providers
        .find<IdentityProviderDoc>({ realm }, { projection: HIDDEN_FIELDS })
        .sort({ alias: 1 })
        .toArray();
      return docs.map(fromProviderDoc);
    });
  }

  async updateIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    const result = await this.#call(() =>
      this.#providers.replaceOne({ realm, alias: provider.alias }, toProviderDoc(realm, provider)),
    );
    if (result.matchedCount === 0) {
      throw new StorageNotFoundError(`identity provider ${provider.alias} not found in realm ${realm}`);
    }
  }

  /**
   * Deletes the provider first, then its links: a {@link createLink} racing this either sees the
   * provider gone (and takes its link back) or inserted its link before the links are deleted.
   */
  async deleteIdentityProvider(realm: string, alias: string): Promise<boolean> {
    return this.#call(async () => {
      const deleted = await this.#providers.deleteOne({ realm, alias });
      await this.#links.deleteMany({ realm, alias });
      return deleted.deletedCount === 1;
    });
  }

  /**
   * Inserts into the unique (realm, alias, externalUserId) and (realm, alias, userId) indexes, so of
   * concurrent calls on any number of instances one wins; then checks that the realm and the provider
   * still exist, taking the link back (and throwing {@link StorageNotFoundError}) if not. Inserting first
   * makes this race-free against {@link deleteIdentityProvider} and {@link deleteRealm} without
   * transactions. The user need not exist (yet).
   */
  async createLink(realm: string, link: IdentityProviderLink): Promise<void> {
    const { alias, externalUserId, userId } = link;
    await this.#call(
      () => this.#links.insertOne(toLinkDoc(realm, link)),
      `external user ${externalUserId} of ${alias}, or user ${userId}, is already linked in realm ${realm}`,
    );
    const [realmDoc, provider] = await this.#call(() =>
      Promise.all([
        this.#realms.findOne({ name: realm, ...VISIBLE }, { projection: { _id: 1 } }),
        this.#providers.findOne({ realm, alias }, { projection: { _id: 1 } }),
      ]),
    );
    if (realmDoc && provider) return;
    await this.#call(() => this.#links.deleteOne({ realm, alias, externalUserId, userId }));
    throw new StorageNotFoundError(
      realmDoc ? `identity provider ${alias} not found in realm ${realm}` : `realm ${realm} not found`,
    );
  }

  async findLink(realm: string, alias: string, externalUserId: string): Promise<IdentityProviderLink | undefined> {
    return this.#findLink({ realm, alias, externalUserId });
  }

  async findLinkOfUser(realm: string, alias: string, userId: string): Promise<IdentityProviderLink | undefined> {
    return this.#findLink({ realm, alias, userId });
  }

  async #findLink(filter: Filter<LinkDoc>): Promise<IdentityProviderLink | undefined> {
    return this.#call(
      async () => (await this.#links.findOne<IdentityProviderLink>(filter, { projection: HIDDEN_FIELDS })) ?? undefined,
    );
  }

  async listLinksOfUser(realm: string, userId: string): Promise<IdentityProviderLink[]> {
    return this.#call(() =>
      this.#links
        .find<IdentityProviderLink>({ realm, userId }, { projection: HIDDEN_FIELDS })
        .sort({ alias: 1 })
        .toArray(),
    );
  }

  /**
   * Sets (or unsets) `storedToken`, the only field of a link ever updated: concurrent calls overwriting
   * each other's document on FerretDB lose nothing but the earlier token (last write wins).
   */
  async storeLinkToken(
    realm: string,
    alias: string,
    userId: string,
    token: IdentityProviderLink["storedToken"],
  ): Promise<void> {
    const update: UpdateFilter<LinkDoc> =
      token === undefined ? { $unset: { storedToken: "" } } : { $set: { storedToken: toStoredToken(token) } };
    const result = await this.#call(() => this.#links.updateOne({ realm, alias, userId }, update));
    if (result.matchedCount === 0) {
      throw new StorageNotFoundError(`user ${userId} has no link to ${alias} in realm ${realm}`);
    }
  }

  async deleteLink(realm: string, alias: string, externalUserId: string): Promise<boolean> {
    return this.#call(async () => (await this.#links.deleteOne({ realm, alias, externalUserId })).deletedCount === 1);
  }

  async addSigningKey(realm: string, key: SigningKey): Promise<void> {
    await this.#requireRealm(realm);
    await this.#call(
      () => this.#keys.insertOne({ ...key, realm }),
      `signing key ${key.kid} already exists in realm ${realm}`,
    );
  }

  async listSigningKeys(realm: string): Promise<SigningKey[]> {
    return this.#call(() =>
      this.#keys
        .find<SigningKey>({ realm }, { projection: HIDDEN_FIELDS })
        .sort({ createdAt: -1, _id: -1 })
        .toArray(),
    );
  }

  async updateSigningKeyState(realm: string, kid: string, state: SigningKey["state"], retireAt?: Date): Promise<boolean> {
    const update: UpdateFilter<Scoped<SigningKey>> =
      retireAt === undefined ? { $set: { state }, $unset: { retireAt: "" } } : { $set: { state, retireAt } };
    const result = await this.#call(() => this.#keys.updateOne({ realm, kid }, update));
    return result.matchedCount === 1;
  }

  /**
   * Throws {@link StorageConflictError} on a duplicate id. Does not check that the realm exists: records
   * of an unknown realm go when a realm of that name is created.
   */
  async createSession(realm: string, session: Session): Promise<void> {
    const { endedAt, endReason, ...rest } = session;
    await this.#call(
      () => this.#sessions.insertOne({ ...rest, realm, expiresAt: sessionExpiresAt(session) }),
      `session ${session.id} already exists in realm ${realm}`,
    );
    if (endedAt) {
      await this.#call(() => this.#sessionEnds.insertOne({ realm, sessionId: session.id, endedAt, endReason }));
    }
  }

  async getSession(realm: string, id: string): Promise<Session | undefined> {
    return this.#call(async () => {
      const [doc, end] = await Promise.all([
        this.#sessions.findOne<SessionDoc>({ realm, id }, { projection: HIDDEN_FIELDS }),
        this.#sessionEnds.findOne({ realm, sessionId: id }),
      ]);
      return doc ? toSession(doc, end ?? undefined) : undefined;
    });
  }

  /**
   * Does nothing when the session is unknown, ended or already expired at `at` (an idle session is not
   * revived). Two touches of one session at the same moment may, on FerretDB, keep the earlier time.
   */
  async touchSession(realm: string, id: string, at: Date): Promise<void> {
    const session = await this.getSession(realm, id);
    if (!isSessionActive(session, at) || at <= session.lastActiveAt) return;
    const expiresAt = sessionExpiresAt({ ...session, lastActiveAt: at });
    await this.#call(() =>
      this.#sessions.updateOne({ realm, id, lastActiveAt: { $lt: at } }, { $set: { lastActiveAt: at, expiresAt } }),
    );
  }

  /** The first end wins by inserting into the unique (realm, sessionId) index of `session_ends`. */
  async endSession(realm: string, id: string, at: Date, reason: SessionEndReason): Promise<boolean> {
    const exists = await this.#call(() => this.#sessions.findOne({ realm, id }, { projection: { _id: 1 } }));
    if (!exists) return false;
    return this.#insertFirst(() =>
      this.#sessionEnds.insertOne({ realm, sessionId: id, endedAt: at, endReason: reason }),
    );
  }

  /**
   * The query filters on realm, user and the stored expiry; ended sessions are dropped in code, fetching
   * further batches until the page is full or the sessions run out.
   */
  async listSessions(realm: string, query: SessionQuery): Promise<Page<Session>> {
    const { userId, activeAt } = query;
    const shape = sessionPageShape(realm, query);
    let cursor = decodePageToken(shape, query.pageToken);
    const size = pageSizeOf(query);
    const base: Filter<SessionDoc> = { realm };
    if (userId !== undefined) base.userId = userId;
    if (activeAt) base.expiresAt = { $gt: activeAt };
    const found: Session[] = [];
    return this.#call(async () => {
      for (;;) {
        const filter: Filter<SessionDoc> = cursor
          ? { ...base, $or: [{ startedAt: { $lt: cursor.time } }, { startedAt: cursor.time, id: { $gt: cursor.id } }] }
          : base;
        const docs = await this.#sessions
          .find<SessionDoc>(filter, { projection: HIDDEN_FIELDS })
          .sort({ startedAt: -1, id: 1 })
          .limit(size + 1)
          .toArray();
        const ends = await this.#endsOf(realm, docs.map((d) => d.id));
        for (const doc of docs) {
          const session = toSession(doc, ends.get(doc.id));
          if (!activeAt || isSessionActive(session, activeAt)) found.push(session);
        }
        if (docs.length <= size || found.length > size) return pageOf(found, size, shape, sessionKey);
        cursor = sessionKey(docs[docs.length - 1]);
      }
    });
  }

  async #endsOf(realm: string, ids: string[]): Promise<Map<string, SessionEndDoc>> {
    if (ids.length === 0) return new Map();
    const ends = await this.#sessionEnds.find({ realm, sessionId: { $in: ids } }).toArray();
    return new Map(ends.map((end) => [end.sessionId, end]));
  }

  /** Throws {@link StorageConflictError} on a duplicate hash or jti. Does not check that the realm exists. */
  async storeRefreshToken(realm: string, record: RefreshTokenRecord): Promise<void> {
    const { act, usedAt, ...rest } = record;
    const doc: RefreshTokenDoc = act === undefined ? { ...rest, realm } : { ...rest, realm, act: JSON.stringify(act) };
    await this.#call(
      () => this.#refreshTokens.insertOne(doc),
      `refresh token ${record.jti} (or its hash) already exists in realm ${realm}`,
    );
    if (usedAt) {
      const use = { realm, tokenHash: record.tokenHash, usedAt, expiresAt: record.expiresAt };
      await this.#call(() => this.#refreshTokenUses.insertOne(use));
    }
  }

  async findRefreshToken(realm: string, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return this.#call(async () => {
      const [doc, use] = await Promise.all([
        this.#refreshTokens.findOne<Omit<RefreshTokenDoc, "realm">>(
          { realm, tokenHash },
          { projection: HIDDEN_FIELDS },
        ),
        this.#refreshTokenUses.findOne({ realm, tokenHash }),
      ]);
      if (!doc) return undefined;
      const { act, ...rest } = doc;
      const record: RefreshTokenRecord =
        act === undefined ? rest : { ...rest, act: JSON.parse(act) as Record<string, unknown> };
      return use ? { ...record, usedAt: use.usedAt } : record;
    });
  }

  /**
   * The first use wins by inserting into the unique (realm, tokenHash) index of `refresh_token_uses`: a
   * filtered update is not atomic on FerretDB (see the note on {@link SessionDoc}).
   */
  async markRefreshTokenUsed(realm: string, tokenHash: string, at: Date): Promise<boolean> {
    const token = await this.#call(() =>
      this.#refreshTokens.findOne({ realm, tokenHash }, { projection: { _id: 0, expiresAt: 1 } }),
    );
    if (!token) return false;
    return this.#insertFirst(() =>
      this.#refreshTokenUses.insertOne({ realm, tokenHash, usedAt: at, expiresAt: token.expiresAt }),
    );
  }

  recordLineage(realm: string, lineage: TokenLineage): Promise<boolean> {
    return this.#lineageCommit.submit({ realm, lineage });
  }

  /** Inserts the batch's lineage, then reads which of its parents are revoked: inserting first keeps cascades race-free. */
  async #recordLineages(items: ScopedLineage[]): Promise<boolean[]> {
    await this.#lineage.insertMany(
      items.map(({ realm, lineage: { parentJti, childJti, expiresAt } }) => ({ realm, parentJti, childJti, expiresAt })),
      { ordered: false },
    );
    const realms = [...new Set(items.map((item) => item.realm))];
    const parents = [...new Set(items.map((item) => item.lineage.parentJti))];
    const revoked = await this.#revocations
      .find({ realm: { $in: realms }, jti: { $in: parents } }, { projection: { _id: 0, realm: 1, jti: 1 } })
      .toArray();
    const revokedKeys = new Set(revoked.map(({ realm, jti }) => `${realm}\u0000${jti}`));
    return items.map(({ realm, lineage }) => !revokedKeys.has(`${realm}\u0000${lineage.parentJti}`));
  }

  async listChildTokens(realm: string, parentJti: string, now: Date): Promise<TokenLineage[]> {
    return this.#call(() =>
      this.#lineage
        .find<TokenLineage>({ realm, parentJti, expiresAt: { $gt: now } }, { projection: HIDDEN_FIELDS })
        .sort({ _id: 1 })
        .toArray(),
    );
  }

  /**
   * Inserts the revocation, or else moves its `expiresAt` later. Two concurrent revocations of one jti
   * with different expiries may keep the earlier on FerretDB; the jti is revoked either way.
   */
  async revokeToken(realm: string, jti: string, expiresAt: Date): Promise<void> {
    const inserted = await this.#insertFirst(() => this.#revocations.insertOne({ realm, jti, expiresAt }));
    if (inserted) return;
    await this.#call(() =>
      this.#revocations.updateOne({ realm, jti, expiresAt: { $lt: expiresAt } }, { $set: { expiresAt } }),
    );
  }

  /** True from {@link revokeToken} until {@link purgeExpired} removes the record (whatever the clock says). */
  async isTokenRevoked(realm: string, jti: string): Promise<boolean> {
    const found = await this.#call(() => this.#revocations.findOne({ realm, jti }, { projection: { _id: 1 } }));
    return found !== null;
  }

  async appendEvents(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#call(() => this.#events.insertMany(events.map((event) => ({ ...event }))));
  }

  async listEvents(realm: string, query: EventQuery): Promise<Page<AuditEvent>> {
    const { kind, clientId, subject, result, since, until } = query;
    const shape = eventPageShape(realm, query);
    const cursor = decodePageToken(shape, query.pageToken);
    const size = pageSizeOf(query);
    const filter: Filter<AuditEvent> = { realm };
    if (kind !== undefined) filter.kind = kind;
    if (clientId !== undefined) filter.clientId = clientId;
    if (subject !== undefined) filter.subject = subject;
    if (result !== undefined) filter.result = result;
    if (since || until) filter.time = { ...(since && { $gte: since }), ...(until && { $lt: until }) };
    if (cursor) filter.$or = [{ time: { $lt: cursor.time } }, { time: cursor.time, id: { $gt: cursor.id } }];
    const events = await this.#call(() =>
      this.#events
        .find<AuditEvent>(filter, { projection: { _id: 0 } })
        .sort({ time: -1, id: 1 })
        .limit(size + 1)
        .toArray(),
    );
    return pageOf(events, size, shape, eventKey);
  }

  /**
   * Counts used jtis, revocations, lineage, refresh tokens, sessions and events; the `session_ends` and
   * `refresh_token_uses` documents that go with their session or token are not counted.
   */
  async purgeExpired(now: Date, eventsBefore: Date): Promise<number> {
    const past = { expiresAt: { $lte: now } };
    return this.#call(async () => {
      const deleted = await Promise.all([
        this.#usedJtis.deleteMany(past),
        this.#revocations.deleteMany(past),
        this.#lineage.deleteMany(past),
        this.#refreshTokens.deleteMany(past),
        this.#events.deleteMany({ time: { $lt: eventsBefore } }),
        this.#revisionClaims.deleteMany(past),
      ]);
      await this.#refreshTokenUses.deleteMany(past);
      const sessions = await this.#purgeSessions(new Date(now.getTime() - SESSION_RETENTION_MS));
      return deleted.reduce((sum, result) => sum + result.deletedCount, sessions);
    });
  }

  /** Deletes the sessions (and their ends) that ended or expired before `cutoff`; returns how many sessions went. */
  async #purgeSessions(cutoff: Date): Promise<number> {
    const [ended, expired] = await Promise.all([
      this.#sessionEnds
        .find({ endedAt: { $lt: cutoff } }, { projection: { _id: 0, realm: 1, sessionId: 1 } })
        .toArray(),
      this.#sessions.find({ expiresAt: { $lt: cutoff } }, { projection: { _id: 0, realm: 1, id: 1 } }).toArray(),
    ]);
    const byRealm = new Map<string, Set<string>>();
    const add = (realm: string, id: string) => byRealm.set(realm, (byRealm.get(realm) ?? new Set()).add(id));
    for (const end of ended) add(end.realm, end.sessionId);
    for (const session of expired) add(session.realm, session.id);
    let purged = 0;
    for (const [realm, idSet] of byRealm) {
      const ids = [...idSet];
      for (let start = 0; start < ids.length; start += PURGE_BATCH) {
        const batch = ids.slice(start, start + PURGE_BATCH);
        purged += (await this.#sessions.deleteMany({ realm, id: { $in: batch } })).deletedCount;
        await this.#sessionEnds.deleteMany({ realm, sessionId: { $in: batch } });
      }
    }
    return purged;
  }

  /** Runs an insert into a unique index: true when it went in, false on a duplicate key. */
  async #insertFirst(insert: () => Promise<unknown>): Promise<boolean> {
    try {
      await insert();
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw this.#translate(error);
    }
  }

  /**
   * Deletes the record if it has expired, then inserts a new one: the insert is atomic on the unique
   * (realm, clientId, jti) index, so of concurrent calls exactly one gets it in (true) and the others fail
   * with a duplicate key (false). (An upsert filtered on the expiry would revive an expired record for
   * every concurrent caller on FerretDB, whose filtered updates are not atomic.) Expired records are also
   * swept, at most once a minute per instance, without relying on a TTL monitor.
   */
  async consumeJti(realm: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const now = new Date();
    this.#sweepExpiredJtis(now);
    await this.#call(() => this.#usedJtis.deleteOne({ realm, clientId, jti, expiresAt: { $lte: now } }));
    return this.#insertFirst(() => this.#usedJtis.insertOne({ realm, clientId, jti, expiresAt }));
  }

  /**
   * Deletes an expired claim of the same revision, then inserts into the unique (realm, kind, key,
   * revision) index: of concurrent callers exactly one gets its insert in (as {@link consumeJti}).
   */
  async claimRevision(realm: string, kind: string, key: string, revision: string, expiresAt: Date): Promise<boolean> {
    await this.#call(() => this.#revisionClaims.deleteOne({ realm, kind, key, revision, expiresAt: { $lte: new Date() } }));
    return this.#insertFirst(() => this.#revisionClaims.insertOne({ realm, kind, key, revision, expiresAt }));
  }

  async close(): Promise<void> {
    await this.#jtiSweep;
    await this.#client.close();
  }

  #sweepExpiredJtis(now: Date): void {
    if (now.getTime() < this.#nextJtiSweep) return;
    this.#nextJtiSweep = now.getTime() + JTI_SWEEP_INTERVAL_MS;
    this.#jtiSweep = this.#usedJtis.deleteMany({ expiresAt: { $lt: now } }).then(
      () => {},
      () => {}, // best effort: consumeJti never trusts an expired record anyway
    );
  }

  async #requireRealm(name: string): Promise<void> {
    const found = await this.#call(() => this.#realms.findOne({ name, ...VISIBLE }, { projection: { _id: 1 } }));
    if (!found) throw new StorageNotFoundError(`realm ${name} not found`);
  }

  async #deleteObjectsOf(realm: string): Promise<void> {
    await Promise.all(REALM_OBJECT_COLLECTIONS.map((name) => this.#db.collection(name).deleteMany({ realm })));
  }

  /** Runs a driver call and translates its errors into the port's. */
  async #call<T>(operation: () => Promise<T>, conflictMessage?: string): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw this.#translate(error, conflictMessage);
    }
  }

  #translate(error: unknown, conflictMessage = "duplicate key"): unknown {
    if (isDuplicateKey(error)) return new StorageConflictError(conflictMessage, { cause: error });
    if (isUnavailable(error)) {
      const message = `MongoDB at ${this.#hosts} is unavailable: ${error.message}`;
      return new StorageUnavailableError(message, { cause: error });
    }
    return error;
  }
}

function toSession(doc: Omit<SessionDoc, "realm">, end: SessionEndDoc | undefined): Session {
  const { expiresAt: _computed, ...session } = doc;
  if (!end) return session;
  return end.endReason === undefined
    ? { ...session, endedAt: end.endedAt }
    : { ...session, endedAt: end.endedAt, endReason: end.endReason };
}

const sessionKey = (s: { startedAt: Date; id: string }): PageCursor => ({ time: s.startedAt, id: s.id });
const eventKey = (e: AuditEvent): PageCursor => ({ time: e.time, id: e.id });

function toUserDoc(realm: string, user: User): UserDoc {
  const attributes = Object.entries(user.attributes).map(([name, values]) => ({ name, values }));
  return { ...user, realm, attributes };
}

function fromUserDoc(doc: Omit<UserDoc, "realm">): User {
  return { ...doc, attributes: Object.fromEntries(doc.attributes.map((a) => [a.name, a.values])) };
}

function toProviderDoc(realm: string, provider: IdentityProvider): IdentityProviderDoc {
  const { jwks, claims, ...rest } = provider;
  const attributes = Object.entries(claims.attributes).map(([name, value]) => ({ name, value }));
  const doc: IdentityProviderDoc = { ...rest, realm, claims: { ...claims, attributes } };
  if (jwks !== undefined) doc.jwks = JSON.stringify(jwks);
  return doc;
}

function fromProviderDoc(doc: Omit<IdentityProviderDoc, "realm">): IdentityProvider {
  const { jwks, claims, ...rest } = doc;
  const attributes = Object.fromEntries(claims.attributes.map((a) => [a.name, a.value]));
  const provider: IdentityProvider = { ...rest, claims: { ...claims, attributes } };
  if (jwks !== undefined) provider.jwks = JSON.parse(jwks) as NonNullable<IdentityProvider["jwks"]>;
  return provider;
}

/** A link document with only the fields of the port (no stray `undefined`s). */
function toLinkDoc(realm: string, link: IdentityProviderLink): LinkDoc {
  const { storedToken, ...rest } = link;
  return storedToken === undefined ? { ...rest, realm } : { ...rest, realm, storedToken: toStoredToken(storedToken) };
}

function toStoredToken(token: StoredProviderToken): StoredProviderToken {
  const { expiresAt, ...rest } = token;
  return expiresAt === undefined ? rest : { ...rest, expiresAt };
}

/**
 * A write refused by a unique index. FerretDB 1.24 answers 11000 to inserts, but an update or replace that
 * violates a unique index fails with code 1 (`InternalError`) quoting its backend's message.
 */
function isDuplicateKey(error: unknown): boolean {
  if (!(error instanceof MongoServerError)) return false;
  if (error.code === 11000) return true;
  return error.code === 1 && FERRETDB_UNIQUE_VIOLATION.test(error.message);
}

/** The messages of FerretDB's SQLite and PostgreSQL backends for a unique index violation. */
const FERRETDB_UNIQUE_VIOLATION = /UNIQUE constraint failed|duplicate key value violates unique constraint/;

function isUnavailable(error: unknown): error is Error {
  return (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoOperationTimeoutError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoClientClosedError ||
    error instanceof MongoServerClosedError ||
    (error instanceof MongoServerError && typeof error.code === "number" && UNAVAILABLE_CODES.has(error.code))
  );
}

/** The part of a connection string after the credentials: `mongodb://u:p@h1:1,h2:2/db?x` -> `h1:1,h2:2/db?x`. */
function afterCredentials(uri: string): string {
  const rest = uri.replace(/^[a-z0-9+.-]+:\/\//i, "");
  return rest.slice(rest.lastIndexOf("@") + 1);
}

/** `host:port[,host:port]` of a connection string, without credentials. */
function hostsOf(uri: string): string {
  return afterCredentials(uri).split(/[/?]/, 1)[0];
}

function dbNameOf(uri: string): string | undefined {
  const path = /^[^/?]*\/([^?]+)/.exec(afterCredentials(uri))?.[1];
  return path ? decodeURIComponent(path) : undefined;
}

/** Removes the connection string's credentials from a message, should a driver error quote them. */
function redact(message: string, uri: string): string {
  const rest = uri.replace(/^[a-z0-9+.-]+:\/\//i, "");
  const at = rest.lastIndexOf("@");
  if (at < 0) return message;
  const userinfo = rest.slice(0, at);
  const password = userinfo.slice(userinfo.indexOf(":") + 1);
  const secrets = [userinfo, password, safeDecode(password)].filter((s) => s.length > 0);
  return secrets.reduce((text, secret) => text.split(secret).join("***"), message);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
