import { exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { parseRealmDocument } from "../../src/realm-file/index.js";
import type { RealmBundle } from "../../src/storage/realm-repository.js";

/** Client secrets of the test realm, by client id. */
export const SECRETS = {
  gateway: "gateway-secret",
  impersonator: "impersonator-secret",
  "impersonate-sales": "sales-secret",
  "impersonate-all": "all-secret",
  frontend: "frontend-secret",
  "orders-api": "orders-secret",
  "inventory-api": "inventory-secret",
  "no-exchange": "no-exchange-secret",
  "no-service-account": "no-sa-secret",
  "post-only": "post-only-secret",
  retired: "retired-secret",
} as const;

/** A client with `private_key_jwt` and the private key that signs its assertions. */
export interface KeyedClient {
  clientId: string;
  kid: string;
  privateKey: CryptoKey;
}

/** The test realm and the private key of its `private_key_jwt` client. */
export interface TestRealm {
  bundle: RealmBundle;
  batchJob: KeyedClient;
}

/**
 * Builds a realm named `name` that exercises every rule of the token endpoint: clients with and
 * without token exchange, service accounts, each authentication method, a public and a disabled
 * client, scopes with audiences and RFC 8707 resource URIs.
 */
export async function buildTestRealm(name: string, options: { maxDelegationDepth?: number } = {}): Promise<TestRealm> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "batch-1", alg: "ES256", use: "sig" };
  const yaml = `
realm: ${name}
accessTokenLifespan: 300
refreshTokenLifespan: 1800
sessionIdleTimeout: 600
sessionMaxLifespan: 3600
maxDelegationDepth: ${options.maxDelegationDepth ?? 5}
scopes:
  - { name: orders.read, audiences: [orders-api] }
  - { name: orders.write, audiences: [orders-api] }
  - { name: inventory.read, audiences: [inventory-api] }
  - { name: profile }
  - { name: cli.use, audiences: [cli] }
clients:
  - clientId: gateway
    secret: ${SECRETS.gateway}
    serviceAccount: true
    defaultScopes: [profile]
    optionalScopes: [orders.read, orders.write, inventory.read, cli.use]
    tokenExchange: { enabled: true }
  - clientId: orders-api
    secret: ${SECRETS["orders-api"]}
    serviceAccount: true
    resourceUris: [https://orders.example.com]
    defaultScopes: [profile]
    optionalScopes: [inventory.read]
    tokenExchange: { enabled: true, scopePolicy: requester, delegation: true }
  - clientId: inventory-api
    secret: ${SECRETS["inventory-api"]}
    resourceUris: [https://inventory.example.com]
    tokenExchange: { enabled: true }
  - clientId: no-exchange
    secret: ${SECRETS["no-exchange"]}
    serviceAccount: true
    defaultScopes: [profile]
    optionalScopes: [orders.read]
  - clientId: no-service-account
    secret: ${SECRETS["no-service-account"]}
    defaultScopes: [profile]
  - clientId: post-only
    secret: ${SECRETS["post-only"]}
    authMethods: [client_secret_post]
    serviceAccount: true
  - clientId: batch-job
    jwks: { keys: [${JSON.stringify(jwk)}] }
    serviceAccount: true
    defaultScopes: [orders.read]
    tokenExchange: { enabled: true }
  - clientId: impersonator
    secret: ${SECRETS.impersonator}
    serviceAccount: true
    defaultScopes: [profile]
    optionalScopes: [orders.read]
    tokenExchange: { enabled: true, refreshTokens: same_session, impersonation: { users: [alice] }, mayAct: orders-api }
  - clientId: impersonate-sales
    secret: ${SECRETS["impersonate-sales"]}
    serviceAccount: true
    defaultScopes: [profile]
    tokenExchange: { enabled: true, impersonation: { userAttribute: { name: department, value: sales } } }
  - clientId: impersonate-all
    secret: ${SECRETS["impersonate-all"]}
    serviceAccount: true
    defaultScopes: [profile]
    tokenExchange: { enabled: true, impersonation: { allUsers: true } }
  - clientId: frontend
    secret: ${SECRETS.frontend}
    serviceAccount: true
    defaultScopes: [profile]
    optionalScopes: [orders.read]
    tokenExchange: { enabled: true, mayAct: orders-api }
  - clientId: cli
    public: true
    defaultScopes: [profile]
    optionalScopes: [orders.read]
    tokenExchange: { enabled: true }
  - clientId: retired
    enabled: false
    secret: ${SECRETS.retired}
    serviceAccount: true
users:
  - username: alice
    email: alice@example.com
    attributes: { department: sales }
  - username: bob
    attributes: { department: warehouse }
  - username: carol
    enabled: false
`;
  const bundle = await parseRealmDocument(yaml, `${name}.yaml`);
  return { bundle, batchJob: { clientId: "batch-job", kid: "batch-1", privateKey } };
}
