import { create } from "@bufbuild/protobuf";
import { ClientSchema, type Client as ClientMessage } from "../../gen/tessera/admin/v1/client_pb.js";
import { RealmSchema, type Realm as RealmMessage } from "../../gen/tessera/admin/v1/realm_pb.js";
import { ScopeSchema, type Scope as ScopeMessage } from "../../gen/tessera/admin/v1/scope_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EventSchema, type Event as EventMessage } from "../../gen/tessera/admin/v1/event_pb.js";
import { SessionSchema, type Session as SessionMessage } from "../../gen/tessera/admin/v1/session_pb.js";
import { isSessionActive, sessionExpiresAt, type AuditEvent, type Client, type PublicJwk, type Realm, type Scope, type Session } from "../domain/index.js";

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
  });
}

/** Domain scope to its admin message. */
export function scopeToMessage(scope: Scope): ScopeMessage {
  return create(ScopeSchema, { name: scope.name, audiences: scope.audiences, description: scope.description ?? "" });
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
