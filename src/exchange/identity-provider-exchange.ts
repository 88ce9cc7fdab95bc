import { decodeJwt, type JWTPayload } from "jose";
import {
  TokenType,
  storedTokenBinding,
  type Client,
  type IdentityProvider,
  type Realm,
} from "../domain/index.js";
import { ExternalTokenError } from "../idp/external-token-verifier.js";
import { ExternalUserError } from "../idp/external-users.js";
import { failedCondition } from "../idp/claim-conditions.js";
import { ProviderUnavailableError } from "../idp/provider-fetch.js";
import { OAuthError, oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import { isIssuedToOrFor } from "./presented-tokens.js";
import type { RealmContext } from "./realm-context.js";
import type { TokenResponse } from "./token-response.js";

/** Token types an external subject token may have (EXCHANGE.md kind 4). */
export const EXTERNAL_TOKEN_TYPES = new Set<string>([TokenType.accessToken, TokenType.idToken, TokenType.jwt]);

/** A verified external token mapped to a realm user. */
export interface ExternalSubject {
  provider: IdentityProvider;
  claims: JWTPayload;
  userId: string;
  /** `exp` of the external token, seconds since the epoch. */
  exp: number;
}

/**
 * The identity provider a subject token comes from: named by `subject_issuer`, or found by the
 * JWT's `iss` among the realm's providers (those the client may use first). Undefined for a token
 * of the realm itself.
 */
export async function subjectProvider(
  deps: Pick<GrantDeps, "repository">,
  context: RealmContext,
  client: Client,
  subjectToken: string,
  subjectIssuer: string | undefined,
): Promise<IdentityProvider | undefined> {
  const realm = context.realm.name;
  if (subjectIssuer !== undefined) {
    const provider = await deps.repository.getIdentityProvider(realm, subjectIssuer);
    // Keycloak's subject_issuer names a provider alias; an unknown one is an invalid request.
    if (!provider?.enabled) throw oauthError.invalidRequest("subject_issuer is not an identity provider of the realm");
    return provider;
  }
  let iss: string | undefined;
  try {
    iss = decodeJwt(subjectToken).iss;
  } catch {
    return undefined; // not a JWT: the internal verifier refuses it
  }
  if (iss === undefined || iss === context.urls.issuer) return undefined;
  const candidates = (await deps.repository.listIdentityProviders(realm)).filter((p) => p.enabled && p.issuer === iss);
  // Several providers may share an issuer (say, JWT and opaque tokens): the client's own comes first.
  return candidates.find((p) => client.tokenExchange.identityProviders.includes(p.alias)) ?? candidates[0];
}

/** RFC 6749 §5.2 unauthorized_client: the client's `tokenExchange.identityProviders` must name the provider. */
export function checkProviderPermission(client: Client, alias: string): void {
  if (!client.tokenExchange.identityProviders.includes(alias)) {
    throw oauthError.unauthorizedClient(`client may not exchange tokens of identity provider ${alias}`);
  }
}

/**
 * External to internal (EXCHANGE.md kind 4): verifies the provider's token, checks its CEL
 * conditions, maps it to a realm user under the provider's policy and keeps the token on the link
 * when the provider stores tokens. A public `requester` proves nothing about itself, so the token
 * must have been issued to or for it (`azp`/`client_id`/`aud` naming its client id), as for the
 * realm's own tokens: a provider token taken from another application is no use to it.
 */
export async function verifyExternalSubject(
  deps: GrantDeps,
  context: RealmContext,
  requester: Client,
  provider: IdentityProvider,
  token: string,
  tokenType: string,
): Promise<ExternalSubject> {
  const realm = context.realm.name;
  // RFC 8693 §2.2.2: an unsupported subject_token_type is invalid_request.
  if (!EXTERNAL_TOKEN_TYPES.has(tokenType)) throw oauthError.invalidRequest("subject_token_type unsupported for an identity provider token");
  let claims: JWTPayload;
  try {
    claims = await deps.externalTokens.verify(realm, provider, token);
  } catch (error) {
    // RFC 8693 §2.2.2: an invalid subject token is invalid_request; a provider that cannot be reached is not the client's fault.
    if (error instanceof ExternalTokenError) throw oauthError.invalidRequest(`subject_token ${error.reason}`);
    if (error instanceof ProviderUnavailableError) throw new OAuthError("temporarily_unavailable", `identity provider ${provider.alias} is unavailable`, { cause: error });
    throw error;
  }
  const failed = failedCondition(provider.conditions, claims);
  // EXCHANGE.md: a failed condition is named, its expression is not shown.
  if (failed !== undefined) throw oauthError.invalidRequest(`subject_token does not meet condition ${failed}`);
  // RFC 8693 §2.1 leaves the subject token's fitness to the server; EXCHANGE.md: a public client exchanges only tokens issued to or for it.
  if (requester.publicClient && !isIssuedToOrFor(claims, requester.clientId)) {
    throw oauthError.invalidRequest("subject_token was not issued to or for this public client");
  }
  let resolved;
  try {
    resolved = await deps.externalUsers.resolve(realm, provider, claims);
  } catch (error) {
    if (error instanceof ExternalUserError) throw oauthError.invalidRequest(`subject_token: ${error.message}`);
    throw error;
  }
  const exp = typeof claims.exp === "number" ? claims.exp : Math.floor(deps.clock.now().getTime() / 1000) + context.realm.accessTokenLifespan;
  if (provider.storeTokens) {
    await deps.repository.storeLinkToken(realm, provider.alias, resolved.user.id, {
      encryptedToken: await deps.cipher.seal(token, storedTokenBinding(realm, provider.alias, resolved.user.id)),
      tokenType,
      ...(typeof claims.exp === "number" && { expiresAt: new Date(claims.exp * 1000) }),
      storedAt: deps.clock.now(),
    });
  }
  return { provider, claims, userId: resolved.user.id, exp };
}

/**
 * Internal to external (EXCHANGE.md kind 5): the upstream token stored on the user's link to the
 * provider. An unlinked user is `not_linked` with the provider's account-link URL.
 */
export async function storedProviderToken(
  deps: GrantDeps,
  realm: Realm,
  client: Client,
  userId: string,
  alias: string,
  requestedType: string | undefined,
): Promise<TokenResponse> {
  const provider = await deps.repository.getIdentityProvider(realm.name, alias);
  if (!provider?.enabled) throw oauthError.invalidRequest("requested_issuer is not an identity provider of the realm");
  checkProviderPermission(client, alias);
  const link = await deps.repository.findLinkOfUser(realm.name, alias, userId);
  if (!link) {
    // Keycloak's not_linked: the user has never come through this provider.
    throw new OAuthError("not_linked", `user is not linked to identity provider ${alias}`, provider.accountLinkUrl ? { accountLinkUrl: provider.accountLinkUrl } : {});
  }
  const stored = link.storedToken;
  if (!provider.storeTokens || !stored) throw oauthError.invalidRequest(`no token of identity provider ${alias} is stored for this user`);
  if (requestedType !== undefined && requestedType !== stored.tokenType) {
    throw oauthError.invalidRequest("requested_token_type does not match the stored token's type");
  }
  const now = deps.clock.now();
  if (stored.expiresAt !== undefined && stored.expiresAt <= now) {
    throw oauthError.invalidRequest(`the stored token of identity provider ${alias} has expired`);
  }
  const token = await deps.cipher.open(stored.encryptedToken, storedTokenBinding(realm.name, alias, userId));
  const expiresIn = stored.expiresAt ? Math.floor((stored.expiresAt.getTime() - now.getTime()) / 1000) : 0;
  return {
    accessToken: token,
    issuedTokenType: stored.tokenType,
    // RFC 8693 §2.2.1: N_A unless the token is an access token usable as a bearer token.
    tokenType: stored.tokenType === TokenType.accessToken ? "Bearer" : "N_A",
    expiresIn,
    scope: "",
    jti: `${alias}:${link.externalUserId}`,
  };
}
