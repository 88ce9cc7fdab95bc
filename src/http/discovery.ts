import { CLIENT_AUTH_METHODS, GrantType, type Realm, type RealmUrls } from "../domain/index.js";
import { ASSERTION_ALGORITHMS } from "../exchange/client-auth.js";

/**
 * The realm's authorization server metadata (RFC 8414 §2), served at both
 * `.well-known/openid-configuration` and `.well-known/oauth-authorization-server`.
 */
export function realmMetadata(realm: Realm, urls: RealmUrls, scopes: string[], mutualTls: boolean): Record<string, unknown> {
  const authMethods = CLIENT_AUTH_METHODS.filter((method) => mutualTls || method !== "tls_client_auth");
  return {
    issuer: urls.issuer,
    token_endpoint: urls.tokenEndpoint,
    jwks_uri: urls.jwksUri,
    introspection_endpoint: urls.introspectionEndpoint,
    revocation_endpoint: urls.revocationEndpoint,
    end_session_endpoint: urls.logoutEndpoint,
    grant_types_supported: [GrantType.tokenExchange, GrantType.clientCredentials, GrantType.refreshToken],
    introspection_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    // No authorization endpoint: no response type is supported.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: authMethods,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    id_token_signing_alg_values_supported: [realm.signingAlgorithm],
    subject_types_supported: ["public"],
    scopes_supported: scopes,
    // RFC 8705 §3.3: access tokens may be bound to the client's certificate.
    tls_client_certificate_bound_access_tokens: mutualTls,
  };
}
