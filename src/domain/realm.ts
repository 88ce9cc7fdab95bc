/** JWS algorithms a realm may sign with. ES256 is the default. */
export const SIGNING_ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"] as const;

/** A JWS algorithm a realm may sign with. */
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** An isolated tenant: its own issuer, keys, clients, scopes and users. */
export interface Realm {
  /** Unique name; the issuer is `{publicUrl}/realms/{name}`. */
  name: string;
  /** A disabled realm answers as if it did not exist. */
  enabled: boolean;
  /** Access token lifetime, seconds. */
  accessTokenLifespan: number;
  /** Refresh token lifetime, seconds. */
  refreshTokenLifespan: number;
  /** Algorithm of the realm's active signing key. */
  signingAlgorithm: SigningAlgorithm;
  /** A session ends after this many seconds without a refresh. */
  sessionIdleTimeout: number;
  /** A session ends this many seconds after it started, whatever happens. */
  sessionMaxLifespan: number;
  /** Longest chain of actors (`act` nesting, RFC 8693 §4.1) an issued token may carry. */
  maxDelegationDepth: number;
  /** Version set by each AdminService write (optimistic concurrency); absent on objects never written by it. */
  etag?: string;
}

/** Defaults applied where a realm definition leaves a setting out. */
export const REALM_DEFAULTS = {
  enabled: true,
  accessTokenLifespan: 300,
  refreshTokenLifespan: 1800,
  signingAlgorithm: "ES256",
  sessionIdleTimeout: 1800,
  sessionMaxLifespan: 36_000,
  maxDelegationDepth: 5,
} as const satisfies Omit<Realm, "name">;

/** Realm names: URL path segments, lower-case letters, digits, `-`, `_` and `.`. */
export const REALM_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/;
