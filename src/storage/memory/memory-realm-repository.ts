import type { Client, Realm, Scope, SigningKey, User } from "../../domain/index.js";
import {
  StorageConflictError,
  StorageNotFoundError,
  type RealmBundle,
  type RealmRepository,
} from "../realm-repository.js";

/** Everything one realm holds in memory. */
interface RealmData {
  realm: Realm;
  clients: Map<string, Client>;
  scopes: Map<string, Scope>;
  users: Map<string, User>;
  keys: SigningKey[];
  usedJtis: Map<string, number>;
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * The embedded default {@link RealmRepository}: process memory, nothing persisted. For `npm start`,
 * development and fast tests. Every value goes in and out through `structuredClone`.
 */
export class MemoryRealmRepository implements RealmRepository {
  readonly #realms = new Map<string, RealmData>();

  #data(realm: string): RealmData | undefined {
    return this.#realms.get(realm);
  }

  #required(realm: string): RealmData {
    const data = this.#realms.get(realm);
    if (!data) throw new StorageNotFoundError(`realm ${realm} not found`);
    return data;
  }

  async createRealm(realm: Realm): Promise<void> {
    await this.importRealm({ realm, clients: [], scopes: [], users: [] });
  }

  async getRealm(name: string): Promise<Realm | undefined> {
    const data = this.#data(name);
    return data && structuredClone(data.realm);
  }

  async listRealms(): Promise<Realm[]> {
    return [...this.#realms.values()].map((d) => structuredClone(d.realm)).sort(byKey((r) => r.name));
  }

  async updateRealm(realm: Realm): Promise<void> {
    this.#required(realm.name).realm = structuredClone(realm);
  }

  async deleteRealm(name: string): Promise<boolean> {
    return this.#realms.delete(name);
  }

  async importRealm(bundle: RealmBundle): Promise<void> {
    if (this.#realms.has(bundle.realm.name)) {
      throw new StorageConflictError(`realm ${bundle.realm.name} already exists`);
    }
    const data: RealmData = {
      realm: structuredClone(bundle.realm),
      clients: new Map(),
      scopes: new Map(),
      users: new Map(),
      keys: [],
      usedJtis: new Map(),
    };
    for (const client of bundle.clients) putUnique(data.clients, client.clientId, client, "client");
    for (const scope of bundle.scopes) putUnique(data.scopes, scope.name, scope, "scope");
    for (const user of bundle.users) insertUser(data, user);
    this.#realms.set(bundle.realm.name, data);
  }

  async createClient(realm: string, client: Client): Promise<void> {
    putUnique(this.#required(realm).clients, client.clientId, client, "client");
  }

  async getClient(realm: string, clientId: string): Promise<Client | undefined> {
    const client = this.#data(realm)?.clients.get(clientId);
    return client && structuredClone(client);
  }

  async findClientByResourceUri(realm: string, uri: string): Promise<Client | undefined> {
    const clients = this.#data(realm)?.clients.values() ?? [];
    for (const client of clients) if (client.resourceUris.includes(uri)) return structuredClone(client);
    return undefined;
  }

  async listClients(realm: string): Promise<Client[]> {
    return listOf(this.#data(realm)?.clients, (c) => c.clientId);
  }

  async updateClient(realm: string, client: Client): Promise<void> {
    replaceExisting(this.#required(realm).clients, client.clientId, client, "client");
  }

  async deleteClient(realm: string, clientId: string): Promise<boolean> {
    return this.#data(realm)?.clients.delete(clientId) ?? false;
  }

  async createScope(realm: string, scope: Scope): Promise<void> {
    putUnique(this.#required(realm).scopes, scope.name, scope, "scope");
  }

  async getScope(realm: string, name: string): Promise<Scope | undefined> {
    const scope = this.#data(realm)?.scopes.get(name);
    return scope && structuredClone(scope);
  }

  async listScopes(realm: string): Promise<Scope[]> {
    return listOf(this.#data(realm)?.scopes, (s) => s.name);
  }

  async updateScope(realm: string, scope: Scope): Promise<void> {
    replaceExisting(this.#required(realm).scopes, scope.name, scope, "scope");
  }

  async deleteScope(realm: string, name: string): Promise<boolean> {
    return this.#data(realm)?.scopes.delete(name) ?? false;
  }

  async createUser(realm: string, user: User): Promise<void> {
    insertUser(this.#required(realm), user);
  }

  async getUser(realm: string, id: string): Promise<User | undefined> {
    const user = this.#data(realm)?.users.get(id);
    return user && structuredClone(user);
  }

  async findUserByUsername(realm: string, username: string): Promise<User | undefined> {
    const users = this.#data(realm)?.users.values() ?? [];
    for (const user of users) if (user.username === username) return structuredClone(user);
    return undefined;
  }

  async addSigningKey(realm: string, key: SigningKey): Promise<void> {
    const data = this.#required(realm);
    if (data.keys.some((k) => k.kid === key.kid)) throw new StorageConflictError(`signing key ${key.kid} exists`);
    data.keys.unshift(structuredClone(key));
  }

  async listSigningKeys(realm: string): Promise<SigningKey[]> {
    // Newest first by createdAt (keys may be added out of order, e.g. on restore); ties: last added first.
    const keys = structuredClone(this.#data(realm)?.keys ?? []);
    return keys.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  async consumeJti(realm: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const used = this.#required(realm).usedJtis;
    const now = Date.now();
    for (const [key, expiry] of used) if (expiry <= now) used.delete(key);
    const key = JSON.stringify([clientId, jti]);
    if (used.has(key)) return false;
    used.set(key, expiresAt.getTime());
    return true;
  }

  async close(): Promise<void> {}
}

function putUnique<T>(map: Map<string, T>, key: string, value: T, what: string): void {
  if (map.has(key)) throw new StorageConflictError(`${what} ${key} already exists`);
  map.set(key, structuredClone(value));
}

function replaceExisting<T>(map: Map<string, T>, key: string, value: T, what: string): void {
  if (!map.has(key)) throw new StorageNotFoundError(`${what} ${key} not found`);
  map.set(key, structuredClone(value));
}

function listOf<T>(map: Map<string, T> | undefined, key: (t: T) => string): T[] {
  return [...(map?.values() ?? [])].map((v) => structuredClone(v)).sort(byKey(key));
}

function insertUser(data: RealmData, user: User): void {
  for (const existing of data.users.values()) {
    if (existing.username === user.username) throw new StorageConflictError(`username ${user.username} is taken`);
  }
  putUnique(data.users, user.id, user, "user");
}
