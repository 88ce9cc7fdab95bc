import { createPublicKey } from "node:crypto";
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from "../domain/index.js";
import type { RealmFile } from "../realm-file/index.js";
import { convertClient, convertScopes, importedClients, KEYCLOAK_BUILT_IN_CLIENTS } from "./convert-clients.js";
import { ImportReport, type ImportNote } from "./import-report.js";
import { publicJwkOf } from "./public-jwk.js";
import { keycloakExportSchema, type KeycloakExport, type KeycloakIdentityProvider, type KeycloakUser } from "./keycloak-export.js";

type FileUser = NonNullable<RealmFile["users"]>[number];
type FileProvider = NonNullable<RealmFile["identityProviders"]>[number];

/** A Keycloak export as a Tessera realm file, and what did not carry over. */
export interface KeycloakConversion {
  /** The realm file (the shape of a YAML realm file), to check and import as any other. */
  file: RealmFile;
  notes: ImportNote[];
}

/** The export is not a Keycloak realm export; the message says what was expected. */
export class KeycloakExportError extends Error {
  override readonly name = "KeycloakExportError";
}

/** The realm an export names, or "" when it is not a realm export (the conversion says why). */
export function keycloakRealmName(text: string): string {
  try {
    const realm = (JSON.parse(text) as { realm?: unknown } | null)?.realm;
    return typeof realm === "string" ? realm : "";
  } catch {
    return "";
  }
}

/** Keycloak signs with RS256 when a realm names no algorithm. */
const KEYCLOAK_DEFAULT_ALGORITHM: SigningAlgorithm = "RS256";

/** Roles every Keycloak realm has. */
const BUILT_IN_ROLE = (realm: string) => new Set(["offline_access", "uma_authorization", `default-roles-${realm}`]);

/**
 * Converts a Keycloak realm export (JSON text) to a Tessera realm file: the realm's token settings,
 * OpenID Connect clients with their credentials, service accounts and standard token exchange
 * settings, client scopes with audience mappers, users with their federated identities, and OpenID
 * Connect identity providers. Keycloak's built-in clients are left out on purpose; every element
 * with no Tessera meaning (roles, groups, flows, mappers other than audience, authorization
 * services, keys) is a note with the reason. `realm` renames the realm.
 */
export function convertKeycloakExport(text: string, options: { realm?: string } = {}): KeycloakConversion {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new KeycloakExportError(`not JSON: ${(error as Error).message}`);
  }
  const parsed = keycloakExportSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KeycloakExportError(`not a Keycloak realm export: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  const source = parsed.data;
  const report = new ImportReport();
  const clients = importedClients(source, report);
  const clientIds = new Set(clients.map((c) => c.clientId));
  const usedScopes = new Set(clients.flatMap((c) => [...(c.defaultClientScopes ?? []), ...(c.optionalClientScopes ?? [])]));
  const scopes = convertScopes(source, clientIds, usedScopes, report);
  const scopeNames = new Set(scopes.map((s) => s.name));
  const identityProviders = (source.identityProviders ?? []).flatMap((p) => convertProvider(p, source, report));
  const aliases = new Set(identityProviders.map((p) => p.alias));
  const file: RealmFile = {
    realm: options.realm ?? source.realm,
    ...(source.enabled === false && { enabled: false }),
    ...realmSettings(source, report),
    scopes,
    clients: clients.map((c) => convertClient(c, source, scopeNames, report)),
    users: (source.users ?? []).flatMap((u) => convertUser(u, source.realm, aliases, report)),
    identityProviders,
  };
  reportLeftovers(source, report);
  return { file, notes: report.notes };
}

/** Token lifespans and the signing algorithm; Keycloak's 0 means "the default", so it is left to Tessera's. */
function realmSettings(source: KeycloakExport, report: ImportReport): Partial<RealmFile> {
  const positive = (value: number | undefined) => (value !== undefined && value > 0 ? value : undefined);
  const wanted = source.defaultSignatureAlgorithm ?? KEYCLOAK_DEFAULT_ALGORITHM;
  const algorithm = SIGNING_ALGORITHMS.find((a) => a === wanted);
  if (!algorithm) report.changed("realm signature algorithm", `${wanted} is not one Tessera signs with (${SIGNING_ALGORITHMS.join(", ")}): ${KEYCLOAK_DEFAULT_ALGORITHM} instead`);
  const settings: Partial<RealmFile> = {
    signingAlgorithm: algorithm ?? KEYCLOAK_DEFAULT_ALGORITHM,
    accessTokenLifespan: positive(source.accessTokenLifespan),
    sessionIdleTimeout: positive(source.ssoSessionIdleTimeout),
    sessionMaxLifespan: positive(source.ssoSessionMaxLifespan),
  };
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
}

/** A user; service-account users become their client's `serviceAccountUserId` instead. */
function convertUser(user: KeycloakUser, realm: string, aliases: ReadonlySet<string>, report: ImportReport): FileUser[] {
  if (user.serviceAccountClientId !== undefined) return [];
  const element = `user ${user.username}`;
  if ((user.credentials ?? []).length > 0) report.leftOut(`${element} credentials`, "Tessera has no password or OTP login: users sign in at an identity provider");
  const builtIn = BUILT_IN_ROLE(realm);
  const roles = [...(user.realmRoles ?? []).filter((r) => !builtIn.has(r)), ...Object.entries(user.clientRoles ?? {}).flatMap(([c, rs]) => rs.map((r) => `${c}/${r}`))];
  if (roles.length > 0) report.leftOut(`${element} roles ${roles.join(", ")}`, "roles have no Tessera meaning: scopes and tokenExchange settings grant access");
  if ((user.groups ?? []).length > 0) report.leftOut(`${element} groups ${user.groups!.join(", ")}`, "groups have no Tessera meaning; copy what matters into attributes");
  const links = (user.federatedIdentities ?? []).filter((link) => {
    if (aliases.has(link.identityProvider)) return true;
    report.leftOut(`${element} link to ${link.identityProvider}`, "that identity provider was not imported");
    return false;
  });
  return [
    {
      ...(user.id && { id: user.id }),
      username: user.username,
      ...(user.email && { email: user.email }),
      ...(user.enabled === false && { enabled: false }),
      ...(user.attributes && Object.keys(user.attributes).length > 0 && { attributes: user.attributes }),
      ...(links.length > 0 && { links: links.map((link) => ({ alias: link.identityProvider, externalUserId: link.userId })) }),
    },
  ];
}

/**
 * An OpenID Connect identity provider: its issuer and keys (JWKS URL, a configured public key, or
 * the issuer's discovery document), its client id as the accepted audience, the attribute importer
 * mappers as claim mappings. Other kinds (SAML, social) and other mappers are notes.
 */
function convertProvider(provider: KeycloakIdentityProvider, source: KeycloakExport, report: ImportReport): FileProvider[] {
  const element = `identity provider ${provider.alias}`;
  const config = provider.config ?? {};
  if (provider.providerId !== "oidc" && provider.providerId !== "keycloak-oidc") {
    report.leftOut(element, `a ${provider.providerId} provider: Tessera trusts OpenID Connect issuers (add it by hand with its issuer and JWKS)`);
    return [];
  }
  if (!config.issuer) {
    report.leftOut(element, "no issuer in its configuration: Tessera checks iss");
    return [];
  }
  if (config.validateSignature === "false") report.changed(element, "Keycloak did not validate its signatures; Tessera always does");
  const audience = config.clientId ? [config.clientId] : [];
  if (audience.length === 0) {
    report.leftOut(element, "no clientId to accept as the audience of its tokens");
    return [];
  }
  report.changed(element, `accepts tokens whose aud holds ${audience[0]} (its client id at the provider); no client may exchange its tokens until its tokenExchange.identityProviders names ${provider.alias}`);
  const attributes: Record<string, string> = {};
  for (const mapper of (source.identityProviderMappers ?? []).filter((m) => m.identityProviderAlias === provider.alias)) {
    const claim = mapper.config?.claim;
    const attribute = mapper.config?.["user.attribute"];
    if (mapper.identityProviderMapper === "oidc-user-attribute-idp-mapper" && claim && attribute) attributes[attribute] = claim;
    else report.leftOut(`${element} mapper ${mapper.name}`, `mapper type ${mapper.identityProviderMapper}: only claim-to-attribute importers carry over`);
  }
  return [
    {
      alias: provider.alias,
      ...(provider.enabled === false && { enabled: false }),
      issuer: config.issuer,
      ...keysOf(config),
      audiences: audience,
      ...(Object.keys(attributes).length > 0 && { claims: { attributes } }),
      ...(provider.storeToken && { storeTokens: true }),
    },
  ];
}

/** The provider's keys: its JWKS URL, its configured public key (PEM), or neither (OpenID discovery). */
function keysOf(config: Record<string, string>): Partial<FileProvider> {
  if (config.useJwksUrl !== "false" && config.jwksUrl) return { jwksUri: config.jwksUrl };
  const pem = config.publicKeySignatureVerifier;
  if (!pem) return {};
  const key = createPublicKey(pem.includes("BEGIN") ? pem : `-----BEGIN PUBLIC KEY-----\n${pem}\n-----END PUBLIC KEY-----`);
  return { jwks: { keys: [publicJwkOf(key, config.publicKeySignatureVerifierKeyId)] } };
}

/** Realm-level elements with no Tessera meaning, one note each. */
function reportLeftovers(source: KeycloakExport, report: ImportReport): void {
  const builtIn = BUILT_IN_ROLE(source.realm);
  for (const role of source.roles?.realm ?? []) {
    if (!builtIn.has(role.name)) report.leftOut(`realm role ${role.name}`, "roles have no Tessera meaning: scopes and tokenExchange settings grant access");
  }
  for (const [client, roles] of Object.entries(source.roles?.client ?? {})) {
    if (!KEYCLOAK_BUILT_IN_CLIENTS.has(client)) for (const role of roles) report.leftOut(`client role ${client}/${role.name}`, "roles have no Tessera meaning");
  }
  for (const group of source.groups ?? []) report.leftOut(`group ${group.name}`, "groups have no Tessera meaning");
  for (const flow of source.authenticationFlows ?? []) {
    if (!flow.builtIn) report.leftOut(`authentication flow ${flow.alias}`, "Tessera has no login flows");
  }
  for (const key of source.components?.["org.keycloak.keys.KeyProvider"] ?? []) {
    report.leftOut(`key provider ${key.name}`, "signing keys are not imported: Tessera makes its own, so tokens Keycloak issued are not accepted as the realm's");
  }
}
