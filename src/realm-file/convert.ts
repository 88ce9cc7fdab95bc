import { randomUUID } from "node:crypto";
import { hashClientSecret } from "../crypto/client-secrets.js";
import {
  CLAIM_MAPPING_DEFAULTS,
  DEFAULT_PROVIDER_ALGORITHMS,
  introspectionSecretBinding,
  REALM_DEFAULTS,
  TOKEN_EXCHANGE_DEFAULTS,
  type Client,
  type ClientAuthMethod,
  type IdentityProvider,
  type TokenExchangeSettings,
  type User,
} from "../domain/index.js";
import type { RealmBundle } from "../storage/realm-repository.js";
import type { RealmFile, RealmFileClient, RealmFileIdentityProvider, RealmFileUser } from "./schema.js";

/**
 * Converts a parsed realm file into domain objects: applies {@link REALM_DEFAULTS} and
 * {@link TOKEN_EXCHANGE_DEFAULTS}, hashes each client secret (the plain secret is not kept), gives
 * each client a fresh service-account user id and each user without one a fresh id. Order is kept,
 * so `clients[i]` of the bundle is `clients[i]` of the file. Checks no rule: see `validateRealmBundle`.
 */
export async function toRealmBundle(file: RealmFile, options: ConversionOptions = {}): Promise<RealmBundle> {
  const users = (file.users ?? []).map(toUser);
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
    users,
    identityProviders: await Promise.all((file.identityProviders ?? []).map((p) => toIdentityProvider(file.realm, p, options))),
    links: (file.users ?? []).flatMap((u, i) => (u.links ?? []).map((link) => ({ userId: users[i].id, ...link }))),
  };
}

/** How secrets that must be used again (not hashed) are encrypted on import. */
export interface ConversionOptions {
  /** Encrypts under the master key; required when a provider has an introspection client secret. */
  seal?: (plaintext: string, binding: string) => Promise<string>;
}

async function toIdentityProvider(realm: string, p: RealmFileIdentityProvider, options: ConversionOptions): Promise<IdentityProvider> {
  let introspection: IdentityProvider["introspection"];
  if (p.introspection) {
    const { endpoint, clientId, clientSecret } = p.introspection;
    // Without a secret (an export), the secret is "" for the importer to keep the stored one or refuse.
    if (clientSecret !== undefined && !options.seal) throw new Error("an introspection client secret needs the master key to be encrypted");
    const encryptedClientSecret = clientSecret === undefined || !options.seal ? "" : await options.seal(clientSecret, introspectionSecretBinding(realm, p.alias));
    introspection = { endpoint, clientId, encryptedClientSecret };
  }
  return {
    alias: p.alias,
    enabled: p.enabled ?? true,
    issuer: p.issuer,
    ...(p.jwks !== undefined && { jwks: p.jwks }),
    ...(p.jwksUri !== undefined && { jwksUri: p.jwksUri }),
    audiences: p.audiences,
    algorithms: p.algorithms ?? [...DEFAULT_PROVIDER_ALGORITHMS],
    ...(p.maxTokenAge !== undefined && { maxTokenAge: p.maxTokenAge }),
    ...(introspection && { introspection }),
    claims: { ...CLAIM_MAPPING_DEFAULTS, ...p.claims, attributes: p.claims?.attributes ?? {} },
    conditions: p.conditions ?? [],
    userPolicy: p.userPolicy ?? "create",
    storeTokens: p.storeTokens ?? false,
    ...(p.accountLinkUrl !== undefined && { accountLinkUrl: p.accountLinkUrl }),
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
    ...(c.tlsClientAuthSubjectDn !== undefined && { tlsClientAuthSubjectDn: c.tlsClientAuthSubjectDn }),
    ...(c.certificateBoundAccessTokens !== undefined && { certificateBoundAccessTokens: c.certificateBoundAccessTokens }),
    serviceAccount: c.serviceAccount ?? false,
    serviceAccountUserId: c.serviceAccountUserId ?? randomUUID(),
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
    ...(c.tlsClientAuthSubjectDn !== undefined ? (["tls_client_auth"] as const) : []),
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
