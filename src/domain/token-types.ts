/** Token type identifiers of RFC 8693 §3. */
export const TokenType = {
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
  refreshToken: "urn:ietf:params:oauth:token-type:refresh_token",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  saml1: "urn:ietf:params:oauth:token-type:saml1",
  saml2: "urn:ietf:params:oauth:token-type:saml2",
} as const;

/** Grant types Tessera's token endpoint accepts. */
export const GrantType = {
  tokenExchange: "urn:ietf:params:oauth:grant-type:token-exchange",
  clientCredentials: "client_credentials",
  refreshToken: "refresh_token",
} as const;

/** The client assertion type of RFC 7523 §2.2. */
export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
