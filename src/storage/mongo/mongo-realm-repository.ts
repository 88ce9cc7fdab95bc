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
} from "mongodb";
import type { Client, Realm, Scope, SigningKey, User } from "../../domain/index.js";
import {
  StorageConflictError,
  StorageNotFoundError,
  StorageUnavailableError,
  type RealmBundle,
  type RealmRepository,
} from "../realm-repository.js";

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
type UsedJtiDoc = { realm: string; clientId: string; jti: string; expiresAt: Date };

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
const REALM_OBJECT_COLLECTIONS = ["clients", "scopes", "users", "signing_keys", "used_jtis"] as const;
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
  readonly #keys: Collection<Scoped<SigningKey>>;
  readonly #usedJtis: Collection<UsedJtiDoc>;
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
    this.#keys = db.collection("signing_keys");
    this.#usedJtis = db.collection("used_jtis");
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
      this.#keys.createIndex({ realm: 1, kid: 1 }, { unique: true }),
      this.#usedJtis.createIndex({ realm: 1, clientId: 1, jti: 1 }, { unique: true }),
      this.#usedJtis.createIndex({ expiresAt: 1 }),
    ]);
  }

  async createRealm(realm: Realm): Promise<void> {
    await this.importRealm({ realm, clients: [], scopes: [], users: [] });
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

  /**
   * One upsert, atomic on the unique (realm, clientId, jti) index: it inserts a new record or revives an
   * expired one (true); a live record makes the insert fail with a duplicate key (false). Expired records
   * are also swept, at most once a minute per instance, without relying on a TTL monitor.
   */
  async consumeJti(realm: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const now = new Date();
    this.#sweepExpiredJtis(now);
    try {
      await this.#usedJtis.updateOne(
        { realm, clientId, jti, expiresAt: { $lte: now } },
        { $set: { expiresAt } },
        { upsert: true },
      );
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw this.#translate(error);
    }
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

function toUserDoc(realm: string, user: User): UserDoc {
  const attributes = Object.entries(user.attributes).map(([name, values]) => ({ name, values }));
  return { ...user, realm, attributes };
}

function fromUserDoc(doc: Omit<UserDoc, "realm">): User {
  return { ...doc, attributes: Object.fromEntries(doc.attributes.map((a) => [a.name, a.values])) };
}

function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

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
