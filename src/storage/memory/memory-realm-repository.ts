import {
  isSessionActive,
  sessionExpiresAt,
  type AuditEvent,
  type Client,
  type IdentityProvider,
  type IdentityProviderLink,
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
  type EventQuery,
  type Page,
  type RealmBundle,
  type RealmRepository,
  type SessionQuery,
  type TokenLineage,
  type UserQuery,
} from "../realm-repository.js";
import {
  compareNewestFirst,
  decodePageToken,
  isAfter,
  pageOf,
  pageSizeOf,
  eventPageShape,
  sessionPageShape,
  pageByKey,
  userPageShape,
  type PageCursor,
} from "../paging.js";

/** Everything one realm holds in memory. */
interface RealmData {
  realm: Realm;
  clients: Map<string, Client>;
  scopes: Map<string, Scope>;
  users: Map<string, User>;
  /** By alias. */
  identityProviders: Map<string, IdentityProvider>;
  /** By {@link linkKey}(alias, externalUserId); the same objects as in {@link linksOfUsers}. */
  links: Map<string, IdentityProviderLink>;
  /** User id -> alias -> link. */
  linksOfUsers: Map<string, Map<string, IdentityProviderLink>>;
  keys: SigningKey[];
  usedJtis: Map<string, number>;
}

/**
 * What a realm accumulates at run time: sessions, refresh tokens, lineage, revocations and events. Kept
 * apart from {@link RealmData} because none of it requires the realm to exist when written (events of
 * any realm are appended); it goes with {@link MemoryRealmRepository.deleteRealm}, and leftovers of an
 * unknown realm go when a realm of that name is created, as in the Mongo adapter.
 */
interface RealmRecords {
  sessions: Map<string, Session>;
  /** By token hash. */
  refreshTokens: Map<string, RefreshTokenRecord>;
  /** Jtis of {@link refreshTokens}, for their uniqueness. */
  refreshTokenJtis: Set<string>;
  /** By parent jti. */
  lineage: Map<string, TokenLineage[]>;
  /** Revoked jti -> when the record may go. */
  revocations: Map<string, Date>;
  /** Oldest first (appends are the common case); listings walk it backwards from the newest. */
  events: AuditEvent[];
}

/** Sessions that ended or expired longer ago than this are purged. */
const SESSION_RETENTION_MS = 24 * 60 * 60 * 1000;

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

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
 * `undefined`-valued properties dropped, as MongoDB's `ignoreUndefined` does).
 */
export class MemoryRealmRepository implements RealmRepository {
  readonly #maxEvents: number;
  readonly #realms = new Map<string, RealmData>();
  readonly #records = new Map<string, RealmRecords>();
  /** Claimed revisions: JSON [realm, kind, key, revision] -> when the claim may go. */
  readonly #revisionClaims = new Map<string, number>();

  constructor(options: MemoryRealmRepositoryOptions = {}) {
    this.#maxEvents = options.maxEventsPerRealm ?? 10_000;
  }

  /** The records of a realm, created on first write. */
  #recordsOf(realm: string): RealmRecords {
    let records = this.#records.get(realm);
    if (!records) {
      records = {
        sessions: new Map(),
        refreshTokens: new Map(),
        refreshTokenJtis: new Set(),
        lineage: new Map(),
        revocations: new Map(),
        events: [],
      };
      this.#records.set(realm, records);
    }
    return records;
  }

  #data(realm: string): RealmData | undefined {
    return this.#realms.get(realm);
  }

  #required(realm: string): RealmData {
    const data = this.#realms.get(realm);
    if (!data) throw new StorageNotFoundError(`realm ${realm} not found`);
    return data;
  }

  async createRealm(realm: Realm): Promise<void> {
    await this.importRealm({ realm, clients: [], scopes: [], users: [], identityProviders: [] });
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
    if (!this.#realms.delete(name)) return false;
    this.#records.delete(name);
    return true;
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
      identityProviders: new Map(),
      links: new Map(),
      linksOfUsers: new Map(),
      keys: [],
      usedJtis: new Map(),
    };
    for (const client of bundle.clients) putUnique(data.clients, client.clientId, client, "client");
    for (const scope of bundle.scopes) putUnique(data.scopes, scope.name, scope, "scope");
    for (const user of bundle.users) insertUser(data, user);
    for (const provider of bundle.identityProviders) {
      putUnique(data.identityProviders, provider.alias, provider, "identity provider");
    }
    this.#realms.set(bundle.realm.name, data);
    this.#records.delete(bundle.realm.name);
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

  async updateUser(realm: string, user: User): Promise<void> {
    const data = this.#required(realm);
    if (!data.users.has(user.id)) throw new StorageNotFoundError(`user ${user.id} not found in realm ${realm}`);
    for (const other of data.users.values()) {
      if (other.username === user.username && other.id !== user.id) {
        throw new StorageConflictError(`username ${user.username} is taken in realm ${realm}`);
      }
    }
    data.users.set(user.id, copy(user));
  }

  async listUsers(realm: string, query: UserQuery): Promise<Page<User>> {
    const { usernamePrefix, email, enabled } = query;
    const users = [...(this.#data(realm)?.users.values() ?? [])].sort(byKey((u) => u.username));
    const page = pageByKey(users, query, userPageShape(realm, query), (u) => u.username, (u) =>
      (usernamePrefix === undefined || u.username.startsWith(usernamePrefix)) &&
      (email === undefined || u.email === email) &&
      (enabled === undefined || u.enabled === enabled),
    );
    return { ...page, items: page.items.map(copy) };
  }

  async deleteUser(realm: string, id: string): Promise<boolean> {
    const data = this.#data(realm);
    if (!data?.users.delete(id)) return false;
    for (const link of [...(data.linksOfUsers.get(id)?.values() ?? [])]) removeLink(data, link);
    return true;
  }

  async createIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    putUnique(this.#required(realm).identityProviders, provider.alias, provider, "identity provider");
  }

  async getIdentityProvider(realm: string, alias: string): Promise<IdentityProvider | undefined> {
    const provider = this.#data(realm)?.identityProviders.get(alias);
    return provider && copy(provider);
  }

  async listIdentityProviders(realm: string): Promise<IdentityProvider[]> {
    return listOf(this.#data(realm)?.identityProviders, (p) => p.alias);
  }

  async updateIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    replaceExisting(this.#required(realm).identityProviders, provider.alias, provider, "identity provider");
  }

  async deleteIdentityProvider(realm: string, alias: string): Promise<boolean> {
    const data = this.#data(realm);
    if (!data?.identityProviders.delete(alias)) return false;
    for (const link of [...data.links.values()]) if (link.alias === alias) removeLink(data, link);
    return true;
  }

  /**
   * Throws {@link StorageConflictError} when the external user or the user already has a link to the
   * provider, {@link StorageNotFoundError} when the realm or the provider is unknown. The user need not
   * exist (yet).
   */
  async createLink(realm: string, link: IdentityProviderLink): Promise<void> {
    const data = this.#required(realm);
    if (!data.identityProviders.has(link.alias)) {
      throw new StorageNotFoundError(`identity provider ${link.alias} not found in realm ${realm}`);
    }
    const key = linkKey(link.alias, link.externalUserId);
    if (data.links.has(key)) {
      throw new StorageConflictError(`external user ${link.externalUserId} of ${link.alias} is already linked`);
    }
    const ofUser = data.linksOfUsers.get(link.userId) ?? new Map<string, IdentityProviderLink>();
    if (ofUser.has(link.alias)) {
      throw new StorageConflictError(`user ${link.userId} already has a link to ${link.alias}`);
    }
    const stored = copy(link);
    data.links.set(key, stored);
    data.linksOfUsers.set(link.userId, ofUser.set(link.alias, stored));
  }

  async findLink(realm: string, alias: string, externalUserId: string): Promise<IdentityProviderLink | undefined> {
    const link = this.#data(realm)?.links.get(linkKey(alias, externalUserId));
    return link && copy(link);
  }

  async findLinkOfUser(realm: string, alias: string, userId: string): Promise<IdentityProviderLink | undefined> {
    const link = this.#data(realm)?.linksOfUsers.get(userId)?.get(alias);
    return link && copy(link);
  }

  async listLinksOfUser(realm: string, userId: string): Promise<IdentityProviderLink[]> {
    return listOf(this.#data(realm)?.linksOfUsers.get(userId), (l) => l.alias);
  }

  async storeLinkToken(
    realm: string,
    alias: string,
    userId: string,
    token: IdentityProviderLink["storedToken"],
  ): Promise<void> {
    const link = this.#data(realm)?.linksOfUsers.get(userId)?.get(alias);
    if (!link) throw new StorageNotFoundError(`user ${userId} has no link to ${alias} in realm ${realm}`);
    if (token === undefined) delete link.storedToken;
    else link.storedToken = copy(token);
  }

  async deleteLink(realm: string, alias: string, externalUserId: string): Promise<boolean> {
    const data = this.#data(realm);
    const link = data?.links.get(linkKey(alias, externalUserId));
    if (!data || !link) return false;
    removeLink(data, link);
    return true;
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

  async updateSigningKeyState(realm: string, kid: string, state: SigningKey["state"], retireAt?: Date): Promise<boolean> {
    const key = this.#data(realm)?.keys.find((k) => k.kid === kid);
    if (!key) return false;
    key.state = state;
    if (retireAt === undefined) delete key.retireAt;
    else key.retireAt = new Date(retireAt);
    return true;
  }

  async createSession(realm: string, session: Session): Promise<void> {
    const sessions = this.#recordsOf(realm).sessions;
    if (sessions.has(session.id)) {
      throw new StorageConflictError(`session ${session.id} already exists in realm ${realm}`);
    }
    sessions.set(session.id, copy(session));
  }

  async getSession(realm: string, id: string): Promise<Session | undefined> {
    const session = this.#records.get(realm)?.sessions.get(id);
    return session && copy(session);
  }

  /** Does nothing when the session is unknown, ended or already expired at `at` (an idle session is not revived). */
  async touchSession(realm: string, id: string, at: Date): Promise<void> {
    const session = this.#records.get(realm)?.sessions.get(id);
    if (!isSessionActive(session, at) || at <= session.lastActiveAt) return;
    session.lastActiveAt = new Date(at);
  }

  async endSession(realm: string, id: string, at: Date, reason: SessionEndReason): Promise<boolean> {
    const session = this.#records.get(realm)?.sessions.get(id);
    if (!session || session.endedAt !== undefined) return false;
    session.endedAt = new Date(at);
    session.endReason = reason;
    return true;
  }

  async listSessions(realm: string, query: SessionQuery): Promise<Page<Session>> {
    const shape = sessionPageShape(realm, query);
    const cursor = decodePageToken(shape, query.pageToken);
    const { userId, activeAt } = query;
    const matching = [...(this.#records.get(realm)?.sessions.values() ?? [])]
      .filter((s) => userId === undefined || s.userId === userId)
      .filter((s) => activeAt === undefined || isSessionActive(s, activeAt))
      .filter((s) => !cursor || isAfter(sessionKey(s), cursor))
      .sort((a, b) => compareNewestFirst(sessionKey(a), sessionKey(b)));
    const page = pageOf(matching, pageSizeOf(query), shape, sessionKey);
    return { ...page, items: page.items.map(copy) };
  }

  async storeRefreshToken(realm: string, record: RefreshTokenRecord): Promise<void> {
    const records = this.#recordsOf(realm);
    if (records.refreshTokens.has(record.tokenHash) || records.refreshTokenJtis.has(record.jti)) {
      throw new StorageConflictError(`refresh token ${record.jti} (or its hash) already exists in realm ${realm}`);
    }
    records.refreshTokens.set(record.tokenHash, copy(record));
    records.refreshTokenJtis.add(record.jti);
  }

  async findRefreshToken(realm: string, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const record = this.#records.get(realm)?.refreshTokens.get(tokenHash);
    return record && copy(record);
  }

  async markRefreshTokenUsed(realm: string, tokenHash: string, at: Date): Promise<boolean> {
    const record = this.#records.get(realm)?.refreshTokens.get(tokenHash);
    if (!record || record.usedAt !== undefined) return false;
    record.usedAt = new Date(at);
    return true;
  }

  async recordLineage(realm: string, lineage: TokenLineage): Promise<boolean> {
    const records = this.#recordsOf(realm);
    const children = records.lineage.get(lineage.parentJti) ?? [];
    children.push(copy(lineage));
    records.lineage.set(lineage.parentJti, children);
    return !records.revocations.has(lineage.parentJti);
  }

  async listChildTokens(realm: string, parentJti: string, now: Date): Promise<TokenLineage[]> {
    const children = this.#records.get(realm)?.lineage.get(parentJti) ?? [];
    return children.filter((c) => c.expiresAt > now).map(copy);
  }

  async revokeToken(realm: string, jti: string, expiresAt: Date): Promise<void> {
    const revocations = this.#recordsOf(realm).revocations;
    const known = revocations.get(jti);
    if (!known || known < expiresAt) revocations.set(jti, new Date(expiresAt));
  }

  /** True from {@link revokeToken} until {@link purgeExpired} removes the record (whatever the clock says). */
  async isTokenRevoked(realm: string, jti: string): Promise<boolean> {
    return this.#records.get(realm)?.revocations.has(jti) ?? false;
  }

  async appendEvents(events: AuditEvent[]): Promise<void> {
    for (const event of events) {
      // Oldest first, so the usual case (a newer event) is an append, not a shift of the whole array.
      const stored = this.#recordsOf(event.realm).events;
      const key = eventKey(event);
      const last = stored.at(-1);
      if (last === undefined || compareNewestFirst(eventKey(last), key) > 0) stored.push(copy(event));
      else stored.splice(firstNewerOrSame(stored, key), 0, copy(event));
      // Oldest first: the front goes, a tenth over the bound at a time (one shift per many appends).
      if (stored.length > this.#maxEvents + Math.ceil(this.#maxEvents / 10)) stored.splice(0, stored.length - this.#maxEvents);
    }
  }

  async listEvents(realm: string, query: EventQuery): Promise<Page<AuditEvent>> {
    const { kind, clientId, subject, result, since, until } = query;
    const shape = eventPageShape(realm, query);
    const cursor = decodePageToken(shape, query.pageToken);
    const size = pageSizeOf(query);
    const stored = this.#records.get(realm)?.events ?? [];
    const matching: AuditEvent[] = [];
    // Stored oldest first: walk from the newest (or from just older than the cursor) backwards.
    for (let i = (cursor ? firstNewerOrSame(stored, cursor) : stored.length) - 1; i >= 0 && matching.length <= size; i--) {
      const e = stored[i];
      if (since !== undefined && e.time < since) break; // the rest is older still
      if (
        (kind === undefined || e.kind === kind) &&
        (clientId === undefined || e.clientId === clientId) &&
        (subject === undefined || e.subject === subject) &&
        (result === undefined || e.result === result) &&
        (since === undefined || e.time >= since) &&
        (until === undefined || e.time < until)
      ) {
        matching.push(e);
      }
    }
    const page = pageOf(matching, size, shape, eventKey);
    return { ...page, items: page.items.map(copy) };
  }

  async purgeExpired(now: Date, eventsBefore: Date): Promise<number> {
    const sessionCutoff = now.getTime() - SESSION_RETENTION_MS;
    let purged = 0;
    const drop = <K, V>(map: Map<K, V>, expired: (value: V) => boolean, onDrop?: (value: V) => void) => {
      for (const [key, value] of map) {
        if (!expired(value)) continue;
        map.delete(key);
        onDrop?.(value);
        purged++;
      }
    };
    for (const data of this.#realms.values()) drop(data.usedJtis, (expiry) => expiry <= now.getTime());
    for (const records of this.#records.values()) {
      drop(records.revocations, (expiresAt) => expiresAt <= now);
      for (const [parent, children] of records.lineage) {
        const kept = children.filter((c) => c.expiresAt > now);
        purged += children.length - kept.length;
        if (kept.length === 0) records.lineage.delete(parent);
        else records.lineage.set(parent, kept);
      }
      drop(
        records.refreshTokens,
        (r) => r.expiresAt <= now,
        (r) => records.refreshTokenJtis.delete(r.jti),
      );
      drop(
        records.sessions,
        (s) =>
          (s.endedAt !== undefined && s.endedAt.getTime() < sessionCutoff) ||
          sessionExpiresAt(s).getTime() < sessionCutoff,
      );
      const keptEvents = records.events.filter((e) => e.time >= eventsBefore);
      purged += records.events.length - keptEvents.length;
      records.events = keptEvents;
    }
    return purged;
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

  async claimRevision(realm: string, kind: string, key: string, revision: string, expiresAt: Date): Promise<boolean> {
    const now = Date.now();
    for (const [claim, expiry] of this.#revisionClaims) if (expiry <= now) this.#revisionClaims.delete(claim);
    const claim = JSON.stringify([realm, kind, key, revision]);
    if (this.#revisionClaims.has(claim)) return false;
    this.#revisionClaims.set(claim, expiresAt.getTime());
    return true;
  }

  async close(): Promise<void> {}
}

function putUnique<T extends object>(map: Map<string, T>, key: string, value: T, what: string): void {
  if (map.has(key)) throw new StorageConflictError(`${what} ${key} already exists`);
  map.set(key, copy(value));
}

function replaceExisting<T extends object>(map: Map<string, T>, key: string, value: T, what: string): void {
  if (!map.has(key)) throw new StorageNotFoundError(`${what} ${key} not found`);
  map.set(key, copy(value));
}

function listOf<T extends object>(map: Map<string, T> | undefined, key: (t: T) => string): T[] {
  return [...(map?.values() ?? [])].map(copy).sort(byKey(key));
}

/**
 * A deep copy without `undefined`-valued properties at any depth: optional fields are absent, as the
 * Mongo adapter (`ignoreUndefined`) returns them. Dates stay Dates.
 */
function copy<T extends object>(value: T): T {
  const cloned = structuredClone(value);
  dropUndefined(cloned);
  return cloned;
}

function dropUndefined(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) dropUndefined(item);
  } else if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (record[key] === undefined) delete record[key];
      else dropUndefined(record[key]);
    }
  }
}

/** The key of a link in {@link RealmData.links}. */
const linkKey = (alias: string, externalUserId: string): string => JSON.stringify([alias, externalUserId]);

function removeLink(data: RealmData, link: IdentityProviderLink): void {
  data.links.delete(linkKey(link.alias, link.externalUserId));
  const ofUser = data.linksOfUsers.get(link.userId);
  ofUser?.delete(link.alias);
  if (ofUser?.size === 0) data.linksOfUsers.delete(link.userId);
}


/** In a list stored oldest first, the index of the first event as new as `key` or newer. */
function firstNewerOrSame(items: AuditEvent[], key: PageCursor): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareNewestFirst(eventKey(items[mid]), key) <= 0) high = mid;
    else low = mid + 1;
  }
  return low;
}

const sessionKey = (s: Session) => ({ time: s.startedAt, id: s.id });
const eventKey = (e: AuditEvent) => ({ time: e.time, id: e.id });

function insertUser(data: RealmData, user: User): void {
  for (const existing of data.users.values()) {
    if (existing.username === user.username) throw new StorageConflictError(`username ${user.username} is taken`);
  }
  putUnique(data.users, user.id, user, "user");
}
