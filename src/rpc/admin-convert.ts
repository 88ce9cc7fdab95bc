import { create } from "@bufbuild/protobuf";
import { ClientSchema, type Client as ClientMessage } from "../../gen/tessera/admin/v1/client_pb.js";
import { RealmSchema, type Realm as RealmMessage } from "../../gen/tessera/admin/v1/realm_pb.js";
import { ScopeSchema, type Scope as ScopeMessage } from "../../gen/tessera/admin/v1/scope_pb.js";
import type { Client, Realm, Scope } from "../domain/index.js";

/** Domain realm to its admin message. */
export function realmToMessage(realm: Realm): RealmMessage {
  return create(RealmSchema, {
    name: realm.name,
    enabled: realm.enabled,
    accessTokenLifespan: BigInt(realm.accessTokenLifespan),
    refreshTokenLifespan: BigInt(realm.refreshTokenLifespan),
    signingAlgorithm: realm.signingAlgorithm,
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
    tokenExchange: client.tokenExchange,
  });
}

/** Domain scope to its admin message. */
export function scopeToMessage(scope: Scope): ScopeMessage {
  return create(ScopeSchema, { name: scope.name, audiences: scope.audiences, description: scope.description ?? "" });
}
