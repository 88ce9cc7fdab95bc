/** Client authentication methods Tessera accepts (RFC 6749 §2.3, RFC 7523 §2.2, RFC 8705 §2.1). */
export const CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth"] as const;

/** A client authentication method. */
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** `none`: no refresh tokens from token exchange; `same_session`: bound to the subject's session. */
export type RefreshTokenPolicy = "none" | "same_session";

/**
 * `downscope`: never more scope than the subject token has (default);
 * `requester`: the requester's own scopes, as Keycloak's token exchange V2 does.
 */
export type ScopePolicy = "downscope" | "requester";

/**
 * Which users a client may impersonate with `requested_subject`: every user, the users named (by
 * username or id), or the users whose attribute has a value. A user matching any part is allowed.
 */
export interface ImpersonationPolicy {
  allUsers: boolean;
  /** Usernames or user ids. */
  users: string[];
  /** Users whose attribute `name` has `value` among its values. */
  userAttribute?: { name: string; value: string };
}

/** What a client may do at the token exchange grant. */
export interface TokenExchangeSettings {
  enabled: boolean;
  refreshTokens: RefreshTokenPolicy;
  scopePolicy: ScopePolicy;
  /** Absent: the client may not impersonate. */
  impersonation?: ImpersonationPolicy;
  /** Whether the client may send an `actor_token` (delegation). */
  delegation: boolean;
  /**
   * The client whose service account may act for the subject of tokens issued to this client:
   * those tokens carry a `may_act` claim (RFC 8693 §4.4) naming it.
   */
  mayAct?: string;
  /** Aliases of identity providers whose tokens the client may exchange, in both directions. */
  identityProviders: string[];
}

/** A public JSON Web Key as stored for `private_key_jwt` clients. */
export type PublicJwk = Record<string, unknown> & { kty: string };

/** An OAuth client of a realm. */
export interface Client {
  clientId: string;
  enabled: boolean;
  /** Public clients authenticate with `client_id` alone and hold no credentials. */
  publicClient: boolean;
  /** Methods this client may authenticate with; empty for public clients. */
  authMethods: ClientAuthMethod[];
  /** Salted hash of the client secret (PHC string); never the secret itself. */
  secretHash?: string;
  /** Public keys for `private_key_jwt`. */
  jwks?: { keys: PublicJwk[] };
  /** Where to fetch the public keys for `private_key_jwt`. */
  jwksUri?: string;
  /** `tls_client_auth` (RFC 8705 §2.1.2): the subject DN its certificate must have. */
  tlsClientAuthSubjectDn?: string;
  /** Bind access tokens issued over mutual TLS to the client's certificate (`cnf.x5t#S256`, RFC 8705 §3). */
  certificateBoundAccessTokens?: boolean;
  /** Whether the client may use the client_credentials grant. */
  serviceAccount: boolean;
  /** Stable `sub` of the client's service-account tokens. */
  serviceAccountUserId: string;
  defaultScopes: string[];
  optionalScopes: string[];
  /** RFC 8707 resource URIs that name this client as a target. */
  resourceUris: string[];
  tokenExchange: TokenExchangeSettings;
  /** Version set by each AdminService write (optimistic concurrency); absent on objects never written by it. */
  etag?: string;
}

/** Token exchange settings of a client that says nothing about token exchange. */
export const TOKEN_EXCHANGE_DEFAULTS: TokenExchangeSettings = {
  enabled: false,
  refreshTokens: "none",
  scopePolicy: "downscope",
  delegation: false,
  identityProviders: [],
};

/** Whether a client's impersonation policy lets it impersonate `user`. */
export function mayImpersonate(policy: ImpersonationPolicy | undefined, user: { id: string; username: string; attributes: Record<string, string[]> }): boolean {
  if (!policy) return false;
  if (policy.allUsers) return true;
  if (policy.users.includes(user.username) || policy.users.includes(user.id)) return true;
  const wanted = policy.userAttribute;
  return wanted !== undefined && (user.attributes[wanted.name] ?? []).includes(wanted.value);
}
