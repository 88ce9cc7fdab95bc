import { z } from "zod";
import { CLIENT_AUTH_METHODS, SIGNING_ALGORITHMS } from "../domain/index.js";

/**
 * An object schema that refuses unknown keys; the refusal names the keys it accepts, so that a
 * misspelt key is easy to fix.
 */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape).strict(`expected one of ${Object.keys(shape).join(", ")}`);
}

const nonEmpty = z.string().min(1, "expected a non-empty string");

/**
 * A JSON Web Key as written in a client's `jwks`. The one object of the file that is not strict:
 * RFC 7517 lets a JWK carry members beyond those Tessera reads. What it must be (public,
 * importable) is checked by `validateClient`.
 */
const jwkSchema = z.object({ kty: z.string() }).passthrough();

const impersonationSchema = strictObject({
  allUsers: z.boolean().optional(),
  /** Usernames or user ids. */
  users: z.array(nonEmpty).optional(),
  userAttribute: strictObject({ name: nonEmpty, value: z.string() }).optional(),
});

const tokenExchangeSchema = strictObject({
  enabled: z.boolean().optional(),
  refreshTokens: z.enum(["none", "same_session"]).optional(),
  scopePolicy: z.enum(["downscope", "requester"]).optional(),
  impersonation: impersonationSchema.optional(),
  delegation: z.boolean().optional(),
  /** Client id of the actor named in `may_act` of tokens issued to this client. */
  mayAct: nonEmpty.optional(),
  /** Aliases of identity providers whose tokens the client may exchange. */
  identityProviders: z.array(nonEmpty).optional(),
});

const identityProviderSchema = strictObject({
  alias: z.string(),
  enabled: z.boolean().optional(),
  issuer: z.string(),
  jwks: strictObject({ keys: z.array(jwkSchema) }).optional(),
  jwksUri: z.string().optional(),
  audiences: z.array(nonEmpty),
  algorithms: z.array(z.string()).optional(),
  maxTokenAge: z.number().optional(),
  /** `clientSecret` is required unless an import keeps the stored one (exports leave it out). */
  introspection: strictObject({ endpoint: z.string(), clientId: nonEmpty, clientSecret: nonEmpty.optional() }).optional(),
  claims: strictObject({
    userId: nonEmpty.optional(),
    username: nonEmpty.optional(),
    email: nonEmpty.optional(),
    attributes: z.record(z.string(), nonEmpty).optional(),
  }).optional(),
  conditions: z.array(strictObject({ name: nonEmpty, expression: nonEmpty })).optional(),
  userPolicy: z.enum(["create", "link-existing", "create-if-absent"]).optional(),
  storeTokens: z.boolean().optional(),
  accountLinkUrl: z.string().optional(),
});

const scopeSchema = strictObject({
  name: z.string(),
  audiences: z.array(z.string()).optional(),
  description: z.string().optional(),
});

const clientSchema = strictObject({
  clientId: z.string(),
  enabled: z.boolean().optional(),
  public: z.boolean().optional(),
  /** Plain secret; hashed on import. */
  secret: nonEmpty.optional(),
  authMethods: z.array(z.enum(CLIENT_AUTH_METHODS)).optional(),
  jwks: strictObject({ keys: z.array(jwkSchema) }).optional(),
  jwksUri: z.string().optional(),
  /** The stable `sub` of the client's service-account tokens (exports keep it; a new one when absent). */
  serviceAccountUserId: nonEmpty.optional(),
  /** RFC 8705 tls_client_auth: the subject DN of the client's certificate. */
  tlsClientAuthSubjectDn: nonEmpty.optional(),
  /** RFC 8705 §3: bind access tokens to the client's certificate. */
  certificateBoundAccessTokens: z.boolean().optional(),
  serviceAccount: z.boolean().optional(),
  defaultScopes: z.array(z.string()).optional(),
  optionalScopes: z.array(z.string()).optional(),
  resourceUris: z.array(z.string()).optional(),
  tokenExchange: tokenExchangeSchema.optional(),
});

const attributeValue = z.union([z.string(), z.array(z.string())], {
  errorMap: () => ({ message: "expected a string or a list of strings" }),
});

const userSchema = strictObject({
  id: z.string().optional(),
  username: z.string(),
  email: z.string().optional(),
  enabled: z.boolean().optional(),
  attributes: z.record(z.string(), attributeValue).optional(),
  /** The user's identities at the realm's identity providers (their ids there), e.g. from a migration. */
  links: z.array(strictObject({ alias: nonEmpty, externalUserId: nonEmpty })).optional(),
});

/**
 * The realm file (EXCHANGE.md, "Realm file"): the shape and types of every key. Every object
 * except a JWK is strict. Rules across fields and objects (credentials, URIs, references,
 * uniqueness) are checked on the converted domain objects by `validateRealmBundle`.
 */
export const realmFileSchema = strictObject({
  realm: z.string(),
  enabled: z.boolean().optional(),
  accessTokenLifespan: z.number().optional(),
  refreshTokenLifespan: z.number().optional(),
  signingAlgorithm: z.enum(SIGNING_ALGORITHMS).optional(),
  sessionIdleTimeout: z.number().optional(),
  sessionMaxLifespan: z.number().optional(),
  maxDelegationDepth: z.number().optional(),
  scopes: z.array(scopeSchema).optional(),
  clients: z.array(clientSchema).optional(),
  users: z.array(userSchema).optional(),
  identityProviders: z.array(identityProviderSchema).optional(),
});

/** A realm file as parsed, before defaults and conversion to domain objects. */
export type RealmFile = z.infer<typeof realmFileSchema>;

/** One client of a realm file. */
export type RealmFileClient = NonNullable<RealmFile["clients"]>[number];

/** One identity provider of a realm file. */
export type RealmFileIdentityProvider = NonNullable<RealmFile["identityProviders"]>[number];

/** One user of a realm file. */
export type RealmFileUser = NonNullable<RealmFile["users"]>[number];
