import type { Collection, Db, DeleteResult } from "mongodb";
import type { MongoCalls } from "./mongo-calls.js";
import type {
  ClientDoc,
  EventDoc,
  IdentityProviderDoc,
  LineageDoc,
  LinkDoc,
  RealmDoc,
  RefreshTokenDoc,
  RefreshTokenUseDoc,
  RevisionClaimDoc,
  RevocationDoc,
  ScopeDoc,
  SessionDoc,
  SessionEndDoc,
  SigningKeyDoc,
  UsedJtiDoc,
  UserDoc,
} from "./documents.js";

/** The filter of realms readers may see (not being imported or deleted). */
export const VISIBLE = { _state: { $exists: false } } as const;
/** The projection of a realm's objects: without the driver's id and the realm name. */
export const HIDDEN_FIELDS = { _id: 0, realm: 0 } as const;

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

/** The collections of one Tessera database, shared by the stores of the adapter. */
export interface MongoCollections {
  realms: Collection<RealmDoc>;
  clients: Collection<ClientDoc>;
  scopes: Collection<ScopeDoc>;
  users: Collection<UserDoc>;
  providers: Collection<IdentityProviderDoc>;
  links: Collection<LinkDoc>;
  keys: Collection<SigningKeyDoc>;
  usedJtis: Collection<UsedJtiDoc>;
  sessions: Collection<SessionDoc>;
  sessionEnds: Collection<SessionEndDoc>;
  refreshTokens: Collection<RefreshTokenDoc>;
  refreshTokenUses: Collection<RefreshTokenUseDoc>;
  lineage: Collection<LineageDoc>;
  revocations: Collection<RevocationDoc>;
  events: Collection<EventDoc>;
  revisionClaims: Collection<RevisionClaimDoc>;
  /** Every collection but `realms`: what goes with a realm. */
  realmScoped: Collection<{ realm: string }>[];
}

/** The collections of `db` (nothing is sent to the server). */
export function openCollections(db: Db): MongoCollections {
  return {
    realms: db.collection("realms"),
    clients: db.collection("clients"),
    scopes: db.collection("scopes"),
    users: db.collection("users"),
    providers: db.collection("identity_providers"),
    links: db.collection("identity_provider_links"),
    keys: db.collection("signing_keys"),
    usedJtis: db.collection("used_jtis"),
    sessions: db.collection("sessions"),
    sessionEnds: db.collection("session_ends"),
    refreshTokens: db.collection("refresh_tokens"),
    refreshTokenUses: db.collection("refresh_token_uses"),
    lineage: db.collection("token_lineage"),
    revocations: db.collection("revoked_tokens"),
    events: db.collection("audit_events"),
    revisionClaims: db.collection("revision_claims"),
    realmScoped: REALM_OBJECT_COLLECTIONS.map((name) => db.collection(name)),
  };
}

/**
 * Creates the indexes (idempotent). Uniqueness of names, ids and of every "first one wins" comes from
 * the unique ones; the others serve the queries and the purges.
 */
export async function createIndexes(c: MongoCollections): Promise<void> {
  await Promise.all([
    c.realms.createIndex({ name: 1 }, { unique: true }),
    c.clients.createIndex({ realm: 1, clientId: 1 }, { unique: true }),
    c.clients.createIndex({ realm: 1, resourceUris: 1 }),
    c.scopes.createIndex({ realm: 1, name: 1 }, { unique: true }),
    c.users.createIndex({ realm: 1, id: 1 }, { unique: true }),
    c.users.createIndex({ realm: 1, username: 1 }, { unique: true }),
    c.providers.createIndex({ realm: 1, alias: 1 }, { unique: true }),
    c.links.createIndex({ realm: 1, alias: 1, externalUserId: 1 }, { unique: true }),
    c.links.createIndex({ realm: 1, alias: 1, userId: 1 }, { unique: true }),
    c.links.createIndex({ realm: 1, userId: 1 }),
    c.keys.createIndex({ realm: 1, kid: 1 }, { unique: true }),
    c.usedJtis.createIndex({ realm: 1, clientId: 1, jti: 1 }, { unique: true }),
    c.usedJtis.createIndex({ expiresAt: 1 }),
    c.sessions.createIndex({ realm: 1, id: 1 }, { unique: true }),
    c.sessions.createIndex({ realm: 1, userId: 1, startedAt: 1 }),
    c.sessions.createIndex({ expiresAt: 1 }),
    c.sessionEnds.createIndex({ realm: 1, sessionId: 1 }, { unique: true }),
    c.sessionEnds.createIndex({ endedAt: 1 }),
    c.refreshTokens.createIndex({ realm: 1, tokenHash: 1 }, { unique: true }),
    c.refreshTokens.createIndex({ realm: 1, jti: 1 }, { unique: true }),
    c.refreshTokens.createIndex({ realm: 1, sessionId: 1 }),
    c.refreshTokens.createIndex({ expiresAt: 1 }),
    c.refreshTokenUses.createIndex({ realm: 1, tokenHash: 1 }, { unique: true }),
    c.refreshTokenUses.createIndex({ expiresAt: 1 }),
    c.lineage.createIndex({ realm: 1, parentJti: 1 }),
    c.lineage.createIndex({ expiresAt: 1 }),
    c.revocations.createIndex({ realm: 1, jti: 1 }, { unique: true }),
    c.revocations.createIndex({ expiresAt: 1 }),
    c.events.createIndex({ realm: 1, time: 1, id: 1 }),
    c.events.createIndex({ time: 1 }),
    c.revisionClaims.createIndex({ realm: 1, kind: 1, key: 1, revision: 1 }, { unique: true }),
    c.revisionClaims.createIndex({ expiresAt: 1 }),
  ]);
}

/** A collection of documents with an `expiresAt`, as {@link deleteExpired} uses it. */
type ExpiringCollection = { deleteMany(filter: { expiresAt: { $lte: Date } }): Promise<DeleteResult> };

/** Deletes the documents of `expiring` whose `expiresAt` is not after `now`; returns how many went. */
export async function deleteExpired(now: Date, ...expiring: ExpiringCollection[]): Promise<number> {
  const deleted = await Promise.all(expiring.map((collection) => collection.deleteMany({ expiresAt: { $lte: now } })));
  return deleted.reduce((sum, result) => sum + result.deletedCount, 0);
}

/** What every store of the adapter works with: the collections and the driver calls' error translation. */
export interface MongoStoreContext {
  readonly collections: MongoCollections;
  readonly calls: MongoCalls;
}
