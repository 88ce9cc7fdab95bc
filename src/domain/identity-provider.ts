import type { PublicJwk } from "./client.js";

/** How a provider's external users become realm users (EXCHANGE.md "External to internal"). */
export type UserPolicy = "create" | "link-existing" | "create-if-absent";

/** JWS algorithms an identity provider may sign with when its configuration says nothing. */
export const DEFAULT_PROVIDER_ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"] as const;

/** A condition an external token must meet: a named CEL expression over its claims. */
export interface ClaimCondition {
  /** Shown in refusals instead of the expression. */
  name: string;
  /** CEL; each top-level claim is a variable, and `claims` is the map of them all. */
  expression: string;
}

/** Which claims of an external token say who the user is. */
export interface ClaimMapping {
  /** The external user id (default `sub`). */
  userId: string;
  /** Username of a created user (default `preferred_username`; else `{alias}.{external id}`). */
  username: string;
  email: string;
  /** User attribute name -> claim name, copied onto the user at each exchange. */
  attributes: Record<string, string>;
}

/** RFC 7662 introspection of a provider's opaque tokens, with Tessera's credentials there. */
export interface ProviderIntrospection {
  endpoint: string;
  clientId: string;
  /** The client secret, encrypted under the master key (compact JWE). */
  encryptedClientSecret: string;
}

/** A trusted external issuer of a realm (Keycloak's identity provider). */
export interface IdentityProvider {
  alias: string;
  enabled: boolean;
  /** Its tokens' `iss`. */
  issuer: string;
  /** Keys: inline, or from `jwksUri`, or (neither) from the issuer's OpenID discovery document. */
  jwks?: { keys: PublicJwk[] };
  jwksUri?: string;
  /** Accepted `aud` values of incoming tokens; at least one must be present. */
  audiences: string[];
  /** Accepted signing algorithms (never `none` or HMAC). */
  algorithms: string[];
  /** Tokens whose `iat` is older than this many seconds are refused. */
  maxTokenAge?: number;
  introspection?: ProviderIntrospection;
  claims: ClaimMapping;
  conditions: ClaimCondition[];
  userPolicy: UserPolicy;
  /** Keep the external token on the user's link, for internal-to-external exchanges. */
  storeTokens: boolean;
  /** Where a user without a link can link this provider; returned with `not_linked`. */
  accountLinkUrl?: string;
  /** Version set by each AdminService write (optimistic concurrency); absent on objects never written by it. */
  etag?: string;
}

/** A realm user's link to an external identity at a provider. */
export interface IdentityProviderLink {
  alias: string;
  externalUserId: string;
  userId: string;
  createdAt: Date;
  /** The last external token, when the provider stores tokens; encrypted under the master key. */
  storedToken?: StoredProviderToken;
}

/** An upstream token kept on a link. */
export interface StoredProviderToken {
  /** Compact JWE of the token. */
  encryptedToken: string;
  /** RFC 8693 token type URI of the token. */
  tokenType: string;
  /** When it expires, if known. */
  expiresAt?: Date;
  storedAt: Date;
}

/** Claim names used when a provider's configuration names none. */
export const CLAIM_MAPPING_DEFAULTS: Omit<ClaimMapping, "attributes"> = {
  userId: "sub",
  username: "preferred_username",
  email: "email",
};

/** What an identity provider's encrypted introspection client secret is bound to (see MasterKeyCipher). */
export function introspectionSecretBinding(realm: string, alias: string): string {
  return `${realm}/idp/${alias}/introspection`;
}

/** What a link's encrypted stored token is bound to. */
export function storedTokenBinding(realm: string, alias: string, userId: string): string {
  return `${realm}/idp/${alias}/user/${userId}`;
}
