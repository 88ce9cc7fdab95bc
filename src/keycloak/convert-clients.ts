import { randomBytes, X509Certificate } from "node:crypto";
import type { RealmFile } from "../realm-file/index.js";
import type { ImportReport } from "./import-report.js";
import { publicJwkOf } from "./public-jwk.js";
import type { KeycloakClient, KeycloakClientScope, KeycloakExport } from "./keycloak-export.js";

type FileClient = NonNullable<RealmFile["clients"]>[number];
type FileScope = NonNullable<RealmFile["scopes"]>[number];

/** Clients every Keycloak realm has for its own consoles and APIs: left out on purpose. */
export const KEYCLOAK_BUILT_IN_CLIENTS = new Set(["account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"]);

/** Keycloak mappers whose claim Tessera always writes itself. */
const NATIVE_MAPPERS = new Map<string, string>(Object.entries({
  "oidc-sub-mapper": "Tessera always sets sub",
  "oidc-audience-resolve-mapper": "Tessera sets aud from the granted scopes' audiences",
  "oidc-allowed-origins-mapper": "CORS is configured per server (--cors-origin), not per token",
}));

/** Keycloak's attribute that turns on standard token exchange (V2) for a client, and its refresh setting. */
const TOKEN_EXCHANGE_ENABLED = "standard.token.exchange.enabled";
const TOKEN_EXCHANGE_REFRESH = "standard.token.exchange.enableRefreshRequestedTokenType";

/**
 * The client scopes Tessera keeps: OpenID Connect scopes that an imported client uses or that carry
 * an audience mapper. `oidc-audience-mapper` with `included.client.audience` becomes an audience;
 * every other mapper is reported. `offline_access` has no meaning (no offline tokens).
 */
export function convertScopes(source: KeycloakExport, clientIds: ReadonlySet<string>, usedScopes: ReadonlySet<string>, report: ImportReport): FileScope[] {
  const scopes: FileScope[] = [];
  for (const scope of source.clientScopes ?? []) {
    const element = `client scope ${scope.name}`;
    if (scope.protocol !== undefined && scope.protocol !== "openid-connect") {
      report.leftOut(element, `a ${scope.protocol} scope: Tessera speaks OAuth 2.0 and OpenID Connect only`);
      continue;
    }
    if (scope.name === "offline_access") {
      report.leftOut(element, "Tessera issues no offline tokens; refresh tokens follow the subject's session");
      continue;
    }
    const audiences = scopeAudiences(scope, clientIds, report);
    if (!usedScopes.has(scope.name) && audiences.length === 0) {
      report.leftOut(element, "no imported client uses it and it names no audience");
      continue;
    }
    scopes.push({ name: scope.name, ...(audiences.length > 0 && { audiences }), ...(scope.description && { description: scope.description }) });
  }
  return scopes;
}

function scopeAudiences(scope: KeycloakClientScope, clientIds: ReadonlySet<string>, report: ImportReport): string[] {
  const audiences: string[] = [];
  for (const mapper of scope.protocolMappers ?? []) {
    const element = `client scope ${scope.name} mapper ${mapper.name}`;
    const config = mapper.config ?? {};
    if (mapper.protocolMapper === "oidc-audience-mapper") {
      const audience = config["included.client.audience"];
      if (config["access.token.claim"] === "false") report.leftOut(element, "it adds the audience to ID tokens only; Tessera's scope audiences go into access tokens");
      else if (audience && clientIds.has(audience)) audiences.push(audience);
      else if (audience) report.leftOut(element, `audience ${audience} is not an imported client`);
      else report.leftOut(element, "a custom audience: a Tessera audience names a client of the realm");
    } else if (NATIVE_MAPPERS.has(mapper.protocolMapper)) {
      continue; // the claim is there without a mapper
    } else {
      report.leftOut(element, `mapper type ${mapper.protocolMapper}: Tessera's tokens carry fixed claims (RFC 9068), scopes grant audiences only`);
    }
  }
  return audiences;
}

/** The clients that carry over: OpenID Connect clients other than Keycloak's own. */
export function importedClients(source: KeycloakExport, report: ImportReport): KeycloakClient[] {
  const kept: KeycloakClient[] = [];
  for (const client of source.clients ?? []) {
    const element = `client ${client.clientId}`;
    if (KEYCLOAK_BUILT_IN_CLIENTS.has(client.clientId) || client.clientId.endsWith("-realm")) {
      report.leftOut(element, "a Keycloak built-in client (its consoles and admin API)");
    } else if (client.protocol !== undefined && client.protocol !== "openid-connect") {
      report.leftOut(element, `a ${client.protocol} client: Tessera speaks OAuth 2.0 and OpenID Connect only`);
    } else if (client.clientAuthenticatorType === "client-secret-jwt") {
      report.leftOut(element, "client-secret-jwt (an HMAC assertion) is not accepted by Tessera: use a secret or private_key_jwt");
    } else {
      kept.push(client);
    }
  }
  return kept;
}

/**
 * A Keycloak client as a realm-file client: its kind and credentials, service account (keeping its
 * user id, so tokens keep their `sub`), scopes, and standard token exchange (V2) settings.
 */
export function convertClient(client: KeycloakClient, source: KeycloakExport, scopeNames: ReadonlySet<string>, report: ImportReport): FileClient {
  const element = `client ${client.clientId}`;
  const attributes = client.attributes ?? {};
  const scopes = (names: string[] | undefined) => (names ?? []).filter((name) => scopeNames.has(name));
  const converted: FileClient = {
    clientId: client.clientId,
    ...(client.enabled === false && { enabled: false }),
    ...credentialsOf(client, report),
    defaultScopes: scopes(client.defaultClientScopes),
    optionalScopes: scopes(client.optionalClientScopes),
  };
  if (client.serviceAccountsEnabled && !client.publicClient && !client.bearerOnly) {
    const user = (source.users ?? []).find((u) => u.serviceAccountClientId === client.clientId);
    Object.assign(converted, { serviceAccount: true, ...(user?.id && { serviceAccountUserId: user.id }) });
  }
  if (attributes[TOKEN_EXCHANGE_ENABLED] === "true") {
    converted.tokenExchange = {
      enabled: true,
      // Keycloak's standard token exchange grants the requester's own scopes; so does scopePolicy requester.
      scopePolicy: "requester",
      refreshTokens: attributes[TOKEN_EXCHANGE_REFRESH] === "SAME_SESSION" ? "same_session" : "none",
    };
  }
  if (client.standardFlowEnabled || client.implicitFlowEnabled || client.directAccessGrantsEnabled || (client.redirectUris ?? []).length > 0) {
    report.leftOut(`${element} browser and password flows`, "Tessera serves client credentials, token exchange and refresh; logins stay with your identity provider");
  }
  for (const mapper of client.protocolMappers ?? []) {
    if (!NATIVE_MAPPERS.has(mapper.protocolMapper)) {
      report.leftOut(`${element} mapper ${mapper.name}`, `mapper type ${mapper.protocolMapper}: per-client claims have no Tessera meaning; audiences come from scopes`);
    }
  }
  if (client.authorizationSettings !== undefined) {
    report.leftOut(`${element} authorization services`, "Keycloak's policies and permissions have no Tessera meaning: tokenExchange settings say what a client may do");
  }
  return converted;
}

/** The client's kind and credentials; `changed` notes where they could not stay the same. */
function credentialsOf(client: KeycloakClient, report: ImportReport): Partial<FileClient> {
  const element = `client ${client.clientId}`;
  const attributes = client.attributes ?? {};
  if (client.publicClient) return { public: true };
  if (client.bearerOnly) {
    report.changed(element, "bearer-only: imported as a confidential client with a random secret nobody knows, so it cannot authenticate (as in Keycloak)");
    return { secret: randomSecret(), authMethods: ["client_secret_basic"] };
  }
  if (client.clientAuthenticatorType === "client-jwt") {
    if (attributes["use.jwks.url"] === "true" && attributes["jwks.url"]) return { jwksUri: attributes["jwks.url"], authMethods: ["private_key_jwt"] };
    const certificate = attributes["jwt.credential.certificate"];
    if (certificate) {
      const key = new X509Certificate(Buffer.from(certificate, "base64")).publicKey;
      return { jwks: { keys: [publicJwkOf(key)] }, authMethods: ["private_key_jwt"] };
    }
  }
  if (client.clientAuthenticatorType === "client-x509" && attributes["x509.subjectdn"]) {
    report.changed(element, "Keycloak matches x509.subjectdn as a regular expression; Tessera compares the subject DN exactly");
    return { tlsClientAuthSubjectDn: attributes["x509.subjectdn"], authMethods: ["tls_client_auth"] };
  }
  // Partial exports from the admin console mask secrets.
  if (!client.secret || /^\*+$/.test(client.secret)) {
    report.changed(element, "the export holds no secret (partial exports mask them): a random one was set; rotate it (tessera admin clients rotate-secret)");
    return { secret: randomSecret(), authMethods: ["client_secret_basic", "client_secret_post"] };
  }
  return { secret: client.secret, authMethods: ["client_secret_basic", "client_secret_post"] };
}

const randomSecret = (): string => randomBytes(32).toString("base64url");
