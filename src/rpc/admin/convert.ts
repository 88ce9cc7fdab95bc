import { create } from "@bufbuild/protobuf";
import { ClientSchema, type Client as ClientMessage } from "../../../gen/tessera/admin/v1/client_pb.js";
import { RealmSchema, type Realm as RealmMessage } from "../../../gen/tessera/admin/v1/realm_pb.js";
import { ScopeSchema, type Scope as ScopeMessage } from "../../../gen/tessera/admin/v1/scope_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EventSchema, type Event as EventMessage } from "../../../gen/tessera/admin/v1/event_pb.js";
import { SessionSchema, type Session as SessionMessage } from "../../../gen/tessera/admin/v1/session_pb.js";
import { etagOf } from "../../admin/revisions.js";
import { UserLinkSchema, UserSchema, type User as UserMessage, type UserLink as UserLinkMessage } from "../../../gen/tessera/admin/v1/user_pb.js";
import {
  isSessionActive,
  sessionExpiresAt,
  type AuditEvent,
  type Client,
  type IdentityProviderLink,
  type PublicJwk,
  type Realm,
  type Scope,
  type Session,
  type User,
} from "../../domain/index.js";

/** Domain realm to its admin message. */
export function realmToMessage(realm: Realm): RealmMessage {
  return create(RealmSchema, {
    name: realm.name,
    enabled: realm.enabled,
    accessTokenLifespan: BigInt(realm.accessTokenLifespan),
    refreshTokenLifespan: BigInt(realm.refreshTokenLifespan),
    signingAlgorithm: realm.signingAlgorithm,
    sessionIdleTimeout: BigInt(realm.sessionIdleTimeout),
    sessionMaxLifespan: BigInt(realm.sessionMaxLifespan),
    maxDelegationDepth: realm.maxDelegationDepth,
    etag: etagOf(realm),
  });
}

/** Domain client to its admin message: the secret hash is never sent, only whether one is set. */
export function clientToMessage(client: Client): ClientMessage {
  return create(ClientSchema, {
    clientId: client.clientId,
    enabled: client.enabled,
    publicClient: client.publicClient,
    authMethods: client.authMethods,
    hasSecret: client.secretHash !== undefined,
    jwksJson: client.jwks ? JSON.stringify(client.jwks) : "",
    jwksUri: client.jwksUri ?? "",
    tlsClientAuthSubjectDn: client.tlsClientAuthSubjectDn ?? "",
    certificateBoundAccessTokens: client.certificateBoundAccessTokens ?? false,
    serviceAccount: client.serviceAccount,
    serviceAccountUserId: client.serviceAccountUserId,
    defaultScopes: client.defaultScopes,
    optionalScopes: client.optionalScopes,
    resourceUris: client.resourceUris,
    tokenExchange: {
      enabled: client.tokenExchange.enabled,
      refreshTokens: client.tokenExchange.refreshTokens,
      scopePolicy: client.tokenExchange.scopePolicy,
      delegation: client.tokenExchange.delegation,
      mayAct: client.tokenExchange.mayAct ?? "",
      identityProviders: client.tokenExchange.identityProviders,
      impersonation: client.tokenExchange.impersonation,
    },
    etag: etagOf(client),
  });
}

/** Domain scope to its admin message. */
export function scopeToMessage(scope: Scope): ScopeMessage {
  return create(ScopeSchema, { name: scope.name, audiences: scope.audiences, description: scope.description ?? "", etag: etagOf(scope) });
}

/** Domain session to its admin message; `active` as of `now`. */
export function sessionToMessage(session: Session, now: Date): SessionMessage {
  return create(SessionSchema, {
    id: session.id,
    userId: session.userId,
    clientId: session.clientId,
    startedAt: timestampFromDate(session.startedAt),
    lastActiveAt: timestampFromDate(session.lastActiveAt),
    expiresAt: timestampFromDate(sessionExpiresAt(session)),
    ...(session.endedAt && { endedAt: timestampFromDate(session.endedAt) }),
    endReason: session.endReason ?? "",
    active: isSessionActive(session, now),
  });
}

/** Domain audit event to its admin message. */
export function eventToMessage(event: AuditEvent): EventMessage {
  return create(EventSchema, {
    id: event.id,
    time: timestampFromDate(event.time),
    kind: event.kind,
    result: event.result,
    error: event.error ?? "",
    clientId: event.clientId ?? "",
    subject: event.subject ?? "",
    actor: event.actor ?? "",
    audience: event.audience ?? [],
    scopes: event.scopes ?? [],
    sessionId: event.sessionId ?? "",
    jtis: event.jtis,
    operation: event.operation ?? "",
    resource: event.resource ?? "",
    beforeDigest: event.beforeDigest ?? "",
    afterDigest: event.afterDigest ?? "",
    sourceAddress: event.sourceAddress ?? "",
  });
}

/** A JWK Set sent as JSON text, or undefined when it is not one (not JSON, no `keys` list of objects with `kty`). */
export function parseJwkSet(json: string): { keys: PublicJwk[] } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof parsed !== "object" || parsed === null || !Array.isArray(keys)) return undefined;
  const wellFormed = keys.every((key) => typeof key === "object" && key !== null && typeof (key as { kty?: unknown }).kty === "string");
  return wellFormed ? { keys: keys as PublicJwk[] } : undefined;
}

/** Domain user to its admin message. */
export function userToMessage(user: User): UserMessage {
  return create(UserSchema, {
    id: user.id,
    username: user.username,
    email: user.email ?? "",
    enabled: user.enabled,
    attributes: Object.fromEntries(Object.entries(user.attributes).map(([name, values]) => [name, { values }])),
    etag: etagOf(user),
  });
}

/** Admin user message to the domain user (no rule checked; see `validateUser`). */
export function userFromMessage(message: UserMessage, id: string): User {
  return {
    id,
    username: message.username,
    ...(message.email !== "" && { email: message.email }),
    enabled: message.enabled ?? true,
    attributes: Object.fromEntries(Object.entries(message.attributes).map(([name, { values }]) => [name, [...values]])),
  };
}

/** A user's link to its admin message: the stored token itself is never sent. */
export function linkToMessage(link: IdentityProviderLink): UserLinkMessage {
  return create(UserLinkSchema, {
    alias: link.alias,
    externalUserId: link.externalUserId,
    createdAt: timestampFromDate(link.createdAt),
    hasStoredToken: link.storedToken !== undefined,
    ...(link.storedToken?.expiresAt && { storedTokenExpiresAt: timestampFromDate(link.storedToken.expiresAt) }),
  });
}
