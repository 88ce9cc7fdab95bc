import { randomUUID } from "node:crypto";
import { hashClientSecret } from "../crypto/client-secrets.js";
import {
  REALM_DEFAULTS,
  TOKEN_EXCHANGE_DEFAULTS,
  type Client,
  type ClientAuthMethod,
  type TokenExchangeSettings,
  type User,
} from "../domain/index.js";
import type { RealmBundle } from "../storage/realm-repository.js";
import type { RealmFile, RealmFileClient, RealmFileUser } from "./schema.js";

/**
 * Converts a parsed realm file into domain objects: applies {@link REALM_DEFAULTS} and
 * {@link TOKEN_EXCHANGE_DEFAULTS}, hashes each client secret (the plain secret is not kept), gives
 * each client a fresh service-account user id and each user without one a fresh id. Order is kept,
 * so `clients[i]` of the bundle is `clients[i]` of the file. Checks no rule: see `validateRealmBundle`.
 */
export async function toRealmBundle(file: RealmFile): Promise<RealmBundle> {
  return {
    realm: {
      name: file.realm,
      enabled: file.enabled ?? REALM_DEFAULTS.enabled,
      accessTokenLifespan: file.accessTokenLifespan ?? REALM_DEFAULTS.accessTokenLifespan,
      refreshTokenLifespan: file.refreshTokenLifespan ?? REALM_DEFAULTS.refreshTokenLifespan,
      signingAlgorithm: file.signingAlgorithm ?? REALM_DEFAULTS.signingAlgorithm,
      sessionIdleTimeout: file.sessionIdleTimeout ?? REALM_DEFAULTS.sessionIdleTimeout,
      sessionMaxLifespan: file.sessionMaxLifespan ?? REALM_DEFAULTS.sessionMaxLifespan,
      maxDelegationDepth: file.maxDelegationDepth ?? REALM_DEFAULTS.maxDelegationDepth,
    },
    scopes: (file.scopes ?? []).map((s) => ({
      name: s.name,
      audiences: s.audiences ?? [],
      ...(s.description !== undefined && { description: s.description }),
    })),
    clients: await Promise.all((file.clients ?? []).map(toClient)),
    users: (file.users ?? []).map(toUser),
  };
}

async function toClient(c: RealmFileClient): Promise<Client> {
  const publicClient = c.public ?? false;
  return {
    clientId: c.clientId,
    enabled: c.enabled ?? true,
    publicClient,
    authMethods: c.authMethods ?? (publicClient ? [] : defaultAuthMethods(c)),
    ...(c.secret !== undefined && { secretHash: await hashClientSecret(c.secret) }),
    ...(c.jwks !== undefined && { jwks: c.jwks }),
    ...(c.jwksUri !== undefined && { jwksUri: c.jwksUri }),
    serviceAccount: c.serviceAccount ?? false,
    serviceAccountUserId: randomUUID(),
    defaultScopes: c.defaultScopes ?? [],
    optionalScopes: c.optionalScopes ?? [],
    resourceUris: c.resourceUris ?? [],
    tokenExchange: toTokenExchange(c.tokenExchange),
  };
}

function toTokenExchange(t: RealmFileClient["tokenExchange"]): TokenExchangeSettings {
  const { impersonation, ...rest } = t ?? {};
  return {
    ...TOKEN_EXCHANGE_DEFAULTS,
    ...rest,
    ...(impersonation && {
      impersonation: {
        allUsers: impersonation.allUsers ?? false,
        users: impersonation.users ?? [],
        ...(impersonation.userAttribute && { userAttribute: impersonation.userAttribute }),
      },
    }),
  };
}

/** The methods a confidential client's credentials allow: secret methods for a secret, `private_key_jwt` for keys. */
function defaultAuthMethods(c: RealmFileClient): ClientAuthMethod[] {
  return [
    ...(c.secret !== undefined ? (["client_secret_basic", "client_secret_post"] as const) : []),
    ...(c.jwks !== undefined || c.jwksUri !== undefined ? (["private_key_jwt"] as const) : []),
  ];
}

function toUser(u: RealmFileUser): User {
  return {
    id: u.id ?? randomUUID(),
    username: u.username,
    ...(u.email !== undefined && { email: u.email }),
    enabled: u.enabled ?? true,
    attributes: Object.fromEntries(
      Object.entries(u.attributes ?? {}).map(([name, value]) => [name, typeof value === "string" ? [value] : value]),
    ),
  };
}
