/** What a grant returns; each wire adapter renders it (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  accessToken: string;
  /** RFC 8693 `issued_token_type`; absent for grants other than token exchange. */
  issuedTokenType?: string;
  /** `Bearer`, or `N_A` when the issued token is not an access token (RFC 8693 §2.2.1). */
  tokenType: "Bearer" | "N_A";
  expiresIn: number;
  /** Space-delimited scopes of the issued token (RFC 6749 §3.3). */
  scope: string;
  /** Logged instead of the token. */
  jti: string;
  /** A refresh token issued alongside, bound to the subject's session. */
  refreshToken?: string;
  refreshExpiresIn?: number;
}
