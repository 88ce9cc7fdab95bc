import { z } from "zod";

/**
 * The parts of a Keycloak realm export (`kc.sh export`, or the admin console's partial export)
 * that the import reads, as Keycloak 26 writes them. Every object passes unknown keys through: an
 * export holds far more than Tessera reads, and what is not read is reported, not refused.
 */
const loose = <T extends z.ZodRawShape>(shape: T) => z.object(shape).passthrough();

const stringMap = z.record(z.string(), z.string());

const protocolMapperSchema = loose({
  name: z.string(),
  protocol: z.string().optional(),
  protocolMapper: z.string(),
  config: stringMap.optional(),
});

/** A Keycloak protocol mapper: how a claim gets into a token. */
export type KeycloakProtocolMapper = z.infer<typeof protocolMapperSchema>;

const clientSchema = loose({
  clientId: z.string(),
  enabled: z.boolean().optional(),
  publicClient: z.boolean().optional(),
  bearerOnly: z.boolean().optional(),
  clientAuthenticatorType: z.string().optional(),
  secret: z.string().optional(),
  serviceAccountsEnabled: z.boolean().optional(),
  standardFlowEnabled: z.boolean().optional(),
  implicitFlowEnabled: z.boolean().optional(),
  directAccessGrantsEnabled: z.boolean().optional(),
  redirectUris: z.array(z.string()).optional(),
  protocol: z.string().optional(),
  attributes: stringMap.optional(),
  protocolMappers: z.array(protocolMapperSchema).optional(),
  defaultClientScopes: z.array(z.string()).optional(),
  optionalClientScopes: z.array(z.string()).optional(),
  authorizationSettings: z.unknown().optional(),
});

/** A Keycloak client. */
export type KeycloakClient = z.infer<typeof clientSchema>;

const clientScopeSchema = loose({
  name: z.string(),
  description: z.string().optional(),
  protocol: z.string().optional(),
  protocolMappers: z.array(protocolMapperSchema).optional(),
});

/** A Keycloak client scope. */
export type KeycloakClientScope = z.infer<typeof clientScopeSchema>;

const userSchema = loose({
  id: z.string().optional(),
  username: z.string(),
  email: z.string().optional(),
  enabled: z.boolean().optional(),
  serviceAccountClientId: z.string().optional(),
  attributes: z.record(z.string(), z.array(z.string())).optional(),
  credentials: z.array(loose({ type: z.string().optional() })).optional(),
  realmRoles: z.array(z.string()).optional(),
  clientRoles: z.record(z.string(), z.array(z.string())).optional(),
  groups: z.array(z.string()).optional(),
  requiredActions: z.array(z.string()).optional(),
  federatedIdentities: z.array(loose({ identityProvider: z.string(), userId: z.string(), userName: z.string().optional() })).optional(),
});

/** A Keycloak user. */
export type KeycloakUser = z.infer<typeof userSchema>;

const identityProviderSchema = loose({
  alias: z.string(),
  providerId: z.string(),
  enabled: z.boolean().optional(),
  storeToken: z.boolean().optional(),
  config: stringMap.optional(),
});

/** A Keycloak identity provider (brokering). */
export type KeycloakIdentityProvider = z.infer<typeof identityProviderSchema>;

const identityProviderMapperSchema = loose({
  name: z.string(),
  identityProviderAlias: z.string(),
  identityProviderMapper: z.string(),
  config: stringMap.optional(),
});

/** A Keycloak identity provider mapper (what a brokered login copies onto the user). */
export type KeycloakIdentityProviderMapper = z.infer<typeof identityProviderMapperSchema>;

/** A Keycloak realm export, the parts the import reads. */
export const keycloakExportSchema = loose({
  realm: z.string(),
  enabled: z.boolean().optional(),
  accessTokenLifespan: z.number().optional(),
  ssoSessionIdleTimeout: z.number().optional(),
  ssoSessionMaxLifespan: z.number().optional(),
  defaultSignatureAlgorithm: z.string().optional(),
  clients: z.array(clientSchema).optional(),
  clientScopes: z.array(clientScopeSchema).optional(),
  users: z.array(userSchema).optional(),
  identityProviders: z.array(identityProviderSchema).optional(),
  identityProviderMappers: z.array(identityProviderMapperSchema).optional(),
  roles: loose({ realm: z.array(loose({ name: z.string() })).optional(), client: z.record(z.string(), z.array(loose({ name: z.string() }))).optional() }).optional(),
  groups: z.array(loose({ name: z.string() })).optional(),
  authenticationFlows: z.array(loose({ alias: z.string(), builtIn: z.boolean().optional() })).optional(),
  components: z.record(z.string(), z.array(loose({ name: z.string(), providerId: z.string().optional() }))).optional(),
  keycloakVersion: z.string().optional(),
});

/** A Keycloak realm export. */
export type KeycloakExport = z.infer<typeof keycloakExportSchema>;
