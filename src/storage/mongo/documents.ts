import type {
  AuditEvent,
  ClaimMapping,
  Client,
  IdentityProvider,
  IdentityProviderLink,
  Realm,
  RefreshTokenRecord,
  Scope,
  Session,
  SessionEndReason,
  SigningKey,
  StoredProviderToken,
  User,
} from "../../domain/index.js";
import type { TokenLineage } from "../realm-repository.js";

/*
 * The documents of the MongoDB adapter, and their conversion from and to the port's objects.
 *
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
 * A realm document is hidden from readers while `_state` is set: during `importRealm` and `deleteRealm`,
 * which stand in for transactions (FerretDB has none).
 */
export type RealmDoc = Realm & { _state?: "importing" | "deleting" };
/** Every other document carries the name of its realm. */
export type Scoped<T> = T & { realm: string };
/** A client document. */
export type ClientDoc = Scoped<Client>;
/** A scope document. */
export type ScopeDoc = Scoped<Scope>;
/** A signing key document. */
export type SigningKeyDoc = Scoped<SigningKey>;
/**
 * User attributes are stored as `{ name, values }` entries: attribute names may hold `.` or start with `$`,
 * which FerretDB rejects as field names.
 */
export type UserDoc = Scoped<Omit<User, "attributes"> & { attributes: { name: string; values: string[] }[] }>;
/**
 * An identity provider. Its user data with free-form keys is kept out of field names (FerretDB rejects
 * names holding `.` or starting with `$`): `jwks` is stored as JSON text, and the claim mapping's
 * `attributes` as `{ name, value }` entries (user attribute name -> claim name). Conditions are already
 * an array of `{ name, expression }`.
 */
export type IdentityProviderDoc = Scoped<
  Omit<IdentityProvider, "jwks" | "claims"> & {
    jwks?: string;
    claims: Omit<ClaimMapping, "attributes"> & { attributes: { name: string; value: string }[] };
  }
>;
/**
 * A link; unique per (realm, alias, externalUserId) and per (realm, alias, userId), so of concurrent
 * first logins one insert wins. Only `storedToken` is ever updated.
 */
export type LinkDoc = Scoped<IdentityProviderLink>;
/** A used client-assertion jti; unique per (realm, clientId, jti): the first insert wins. */
export type UsedJtiDoc = { realm: string; clientId: string; jti: string; expiresAt: Date };
/** A claimed revision of an object; unique per (realm, kind, key, revision): the first insert wins. */
export type RevisionClaimDoc = { realm: string; kind: string; key: string; revision: string; expiresAt: Date };
/**
 * A session without its end, plus `expiresAt` = `sessionExpiresAt(session)`, kept current by
 * `touchSession` so that listings filter on it.
 */
export type SessionDoc = Scoped<Omit<Session, "endedAt" | "endReason">> & { expiresAt: Date };
/** The end of a session; unique per (realm, sessionId): the first insert wins. */
export type SessionEndDoc = { realm: string; sessionId: string; endedAt: Date; endReason?: SessionEndReason };
/**
 * A refresh token without its use. `act` is stored as JSON text: its keys are JWT claim names, which
 * FerretDB would reject as field names if they held `.` or started with `$`.
 */
export type RefreshTokenDoc = Scoped<Omit<RefreshTokenRecord, "act" | "usedAt">> & { act?: string };
/** The use of a refresh token; unique per (realm, tokenHash): the first insert wins. */
export type RefreshTokenUseDoc = { realm: string; tokenHash: string; usedAt: Date; expiresAt: Date };
/** A token issued from another. */
export type LineageDoc = Scoped<TokenLineage>;
/** A revoked jti, kept until `expiresAt`. */
export type RevocationDoc = { realm: string; jti: string; expiresAt: Date };
/** An audit event (it names its realm itself). */
export type EventDoc = AuditEvent;

/** The user document of `user` in `realm`. */
export function toUserDoc(realm: string, user: User): UserDoc {
  const attributes = Object.entries(user.attributes).map(([name, values]) => ({ name, values }));
  return { ...user, realm, attributes };
}

/** The user a user document holds. */
export function fromUserDoc(doc: Omit<UserDoc, "realm">): User {
  return { ...doc, attributes: Object.fromEntries(doc.attributes.map((a) => [a.name, a.values])) };
}

/** The identity-provider document of `provider` in `realm`. */
export function toProviderDoc(realm: string, provider: IdentityProvider): IdentityProviderDoc {
  const { jwks, claims, ...rest } = provider;
  const attributes = Object.entries(claims.attributes).map(([name, value]) => ({ name, value }));
  const doc: IdentityProviderDoc = { ...rest, realm, claims: { ...claims, attributes } };
  if (jwks !== undefined) doc.jwks = JSON.stringify(jwks);
  return doc;
}

/** The identity provider an identity-provider document holds. */
export function fromProviderDoc(doc: Omit<IdentityProviderDoc, "realm">): IdentityProvider {
  const { jwks, claims, ...rest } = doc;
  const attributes = Object.fromEntries(claims.attributes.map((a) => [a.name, a.value]));
  const provider: IdentityProvider = { ...rest, claims: { ...claims, attributes } };
  if (jwks !== undefined) provider.jwks = JSON.parse(jwks) as NonNullable<IdentityProvider["jwks"]>;
  return provider;
}

/** A link document with only the fields of the port (no stray `undefined`s). */
export function toLinkDoc(realm: string, link: IdentityProviderLink): LinkDoc {
  const { storedToken, ...rest } = link;
  return storedToken === undefined ? { ...rest, realm } : { ...rest, realm, storedToken: toStoredToken(storedToken) };
}

/** A stored provider token without an `undefined` expiry. */
export function toStoredToken(token: StoredProviderToken): StoredProviderToken {
  const { expiresAt, ...rest } = token;
  return expiresAt === undefined ? rest : { ...rest, expiresAt };
}

/** The session a session document and its end (if it ended) hold. */
export function toSession(doc: Omit<SessionDoc, "realm">, end: SessionEndDoc | undefined): Session {
  const { expiresAt: _computed, ...session } = doc;
  if (!end) return session;
  return end.endReason === undefined
    ? { ...session, endedAt: end.endedAt }
    : { ...session, endedAt: end.endedAt, endReason: end.endReason };
}

/** The refresh-token document of `record` in `realm` (its use is stored apart). */
export function toRefreshTokenDoc(realm: string, record: Omit<RefreshTokenRecord, "usedAt">): RefreshTokenDoc {
  const { act, ...rest } = record;
  return act === undefined ? { ...rest, realm } : { ...rest, realm, act: JSON.stringify(act) };
}

/** The refresh token a refresh-token document and its use (if it was used) hold. */
export function fromRefreshTokenDoc(doc: Omit<RefreshTokenDoc, "realm">, use: RefreshTokenUseDoc | undefined): RefreshTokenRecord {
  const { act, ...rest } = doc;
  const record: RefreshTokenRecord = act === undefined ? rest : { ...rest, act: JSON.parse(act) as Record<string, unknown> };
  return use ? { ...record, usedAt: use.usedAt } : record;
}
