/** The public URLs of one realm, all derived from the server's public base URL. */
export interface RealmUrls {
  /** `iss` of every token of the realm: `{publicUrl}/realms/{realm}`. */
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  introspectionEndpoint: string;
  revocationEndpoint: string;
  logoutEndpoint: string;
}

/** Builds the public URLs of a realm from the server's public base URL (no trailing slash). */
export function realmUrls(publicUrl: string, realm: string): RealmUrls {
  const issuer = `${publicUrl}/realms/${encodeURIComponent(realm)}`;
  const oidc = `${issuer}/protocol/openid-connect`;
  return {
    issuer,
    tokenEndpoint: `${oidc}/token`,
    jwksUri: `${oidc}/certs`,
    introspectionEndpoint: `${oidc}/token/introspect`,
    revocationEndpoint: `${oidc}/revoke`,
    logoutEndpoint: `${oidc}/logout`,
  };
}
