/** RFC 8693 §3 token type URI of an access token, the default subject and requested type. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** One token exchange request (RFC 8693 §2.1), in the library's names. */
export interface ExchangeParams {
  /** `subject_token`: the token of the party on whose behalf the call is made. */
  subjectToken: string;
  /** `subject_token_type`; an access token when absent. */
  subjectTokenType?: string;
  /** `audience`: client IDs of the target services. */
  audience?: readonly string[];
  /** `resource`: absolute URIs of the target services (RFC 8707). */
  resource?: readonly string[];
  /** `scope`: the scopes wanted, narrower than the subject token's. */
  scope?: readonly string[];
  /** `actor_token`, for delegation. */
  actorToken?: string;
  /** `actor_token_type`; an access token when `actorToken` is given without one. */
  actorTokenType?: string;
  /** `requested_token_type`; Tessera's default (an access token) when absent. */
  requestedTokenType?: string;
}

/** A successful exchange (RFC 8693 §2.2.1). */
export interface ExchangeResult {
  /** The issued token. */
  accessToken: string;
  /** `issued_token_type`. */
  issuedTokenType: string;
  /** `Bearer`, or `N_A` for a token that is not an access token. */
  tokenType: string;
  /** `expires_in`, seconds. */
  expiresIn: number;
  /** Scopes of the issued token. */
  scope: string[];
}

/** One exchange against Tessera by some transport; rejects with a {@link TokenExchangeError} on a refusal. */
export type ExchangeCall = (params: ExchangeParams) => Promise<ExchangeResult>;
