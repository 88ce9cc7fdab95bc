import { stringify } from "yaml";
import type { Client, IdentityProvider, User } from "../domain/index.js";
import type { RealmBundle } from "../storage/realm-repository.js";
import type { RealmFile } from "./schema.js";

/** How an exported realm file is written. */
export type RealmFileFormat = "yaml" | "json";

type FileClient = NonNullable<RealmFile["clients"]>[number];
type FileUser = NonNullable<RealmFile["users"]>[number];
type FileProvider = NonNullable<RealmFile["identityProviders"]>[number];

/**
 * A realm as a realm file (EXCHANGE.md "Realm file"), the inverse of `toRealmBundle`: every setting
 * written out (defaults too), ids kept (users' ids, clients' service-account user ids) so that the
 * subjects of tokens survive a round trip. Secrets are left out: clients' secret hashes and identity
 * providers' introspection client secrets (an importer keeps the stored ones, or asks for them);
 * signing keys are not part of a realm file. Versions (`etag`) are not exported.
 */
export function toRealmFile(bundle: RealmBundle): RealmFile {
  const { realm } = bundle;
  return {
    realm: realm.name,
    enabled: realm.enabled,
    accessTokenLifespan: realm.accessTokenLifespan,
    refreshTokenLifespan: realm.refreshTokenLifespan,
    signingAlgorithm: realm.signingAlgorithm,
    sessionIdleTimeout: realm.sessionIdleTimeout,
    sessionMaxLifespan: realm.sessionMaxLifespan,
    maxDelegationDepth: realm.maxDelegationDepth,
    scopes: bundle.scopes.map((s) => ({ name: s.name, audiences: [...s.audiences], ...(s.description !== undefined && { description: s.description }) })),
    clients: bundle.clients.map(clientOf),
    users: bundle.users.map(userOf),
    identityProviders: bundle.identityProviders.map(providerOf),
  };
}

function clientOf(c: Client): FileClient {
  const { impersonation, mayAct, ...exchange } = c.tokenExchange;
  return {
    clientId: c.clientId,
    enabled: c.enabled,
    ...(c.publicClient && { public: true }),
    authMethods: [...c.authMethods],
    ...(c.jwks !== undefined && { jwks: structuredClone(c.jwks) }),
    ...(c.jwksUri !== undefined && { jwksUri: c.jwksUri }),
    ...(c.tlsClientAuthSubjectDn !== undefined && { tlsClientAuthSubjectDn: c.tlsClientAuthSubjectDn }),
    ...(c.certificateBoundAccessTokens !== undefined && { certificateBoundAccessTokens: c.certificateBoundAccessTokens }),
    serviceAccount: c.serviceAccount,
    serviceAccountUserId: c.serviceAccountUserId,
    defaultScopes: [...c.defaultScopes],
    optionalScopes: [...c.optionalScopes],
    resourceUris: [...c.resourceUris],
    tokenExchange: {
      enabled: exchange.enabled,
      refreshTokens: exchange.refreshTokens,
      scopePolicy: exchange.scopePolicy,
      delegation: exchange.delegation,
      identityProviders: [...exchange.identityProviders],
      ...(mayAct !== undefined && { mayAct }),
      ...(impersonation && {
        impersonation: {
          allUsers: impersonation.allUsers,
          users: [...impersonation.users],
          ...(impersonation.userAttribute && { userAttribute: { ...impersonation.userAttribute } }),
        },
      }),
    },
  };
}

function userOf(u: User): FileUser {
  return {
    id: u.id,
    username: u.username,
    ...(u.email !== undefined && { email: u.email }),
    enabled: u.enabled,
    attributes: Object.fromEntries(Object.entries(u.attributes).map(([name, values]) => [name, [...values]])),
  };
}

function providerOf(p: IdentityProvider): FileProvider {
  return {
    alias: p.alias,
    enabled: p.enabled,
    issuer: p.issuer,
    ...(p.jwks !== undefined && { jwks: structuredClone(p.jwks) }),
    ...(p.jwksUri !== undefined && { jwksUri: p.jwksUri }),
    audiences: [...p.audiences],
    algorithms: [...p.algorithms],
    ...(p.maxTokenAge !== undefined && { maxTokenAge: p.maxTokenAge }),
    ...(p.introspection && { introspection: { endpoint: p.introspection.endpoint, clientId: p.introspection.clientId } }),
    claims: { ...p.claims, attributes: { ...p.claims.attributes } },
    conditions: p.conditions.map((c) => ({ ...c })),
    userPolicy: p.userPolicy,
    storeTokens: p.storeTokens,
    ...(p.accountLinkUrl !== undefined && { accountLinkUrl: p.accountLinkUrl }),
  };
}

/** The text of a realm file: YAML (with a header comment) or JSON. */
export function renderRealmFile(file: RealmFile, format: RealmFileFormat): string {
  if (format === "json") return `${JSON.stringify(file, null, 2)}\n`;
  const header = `# Realm ${file.realm}, exported by Tessera. Secrets and private keys are left out: an import keeps the stored ones.\n`;
  return header + stringify(file, { lineWidth: 0 });
}
