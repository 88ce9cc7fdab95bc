import { TokenType, epochSeconds, type Client } from "../domain/index.js";
import { TokenVerificationError, type VerifiedAccessToken } from "../tokens/token-verifier.js";
import type { TokenClaims } from "../tokens/token-issuer.js";
import type { PresentedClientCredentials } from "./client-auth.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import { requireRealm, type RealmContext } from "./realm-context.js";
import { grantExchangeScopes, parseScopeParameter } from "./scope-policy.js";
import { availableAudiences, resolveAudience, scopeAudiences, scopesForTargets } from "./target-policy.js";
import type { TokenResponse } from "./token-response.js";

/** A token exchange request: the RFC 8693 §2.1 parameters plus Keycloak's extensions. */
export interface TokenExchangeRequest {
  realm: string;
  credentials: PresentedClientCredentials;
  subjectToken?: string;
  subjectTokenType?: string;
  actorToken?: string;
  actorTokenType?: string;
  requestedTokenType?: string;
  audience: string[];
  resource: string[];
  scope?: string;
  requestedSubject?: string;
  subjectIssuer?: string;
  requestedIssuer?: string;
}

/** Subject token types that name a token this realm issued. */
const INTERNAL_SUBJECT_TOKEN_TYPES = new Set<string>([TokenType.accessToken, TokenType.jwt]);

/**
 * The token exchange grant (RFC 8693), internal to internal: a token this realm issued is
 * exchanged for one with other audiences, fewer scopes, or another type. The requester must be
 * the client the subject token was issued to or for (no confused deputy).
 */
export class TokenExchangeGrant {
  constructor(private readonly deps: GrantDeps) {}

  /** Issues the token or throws an {@link OAuthError}. */
  async exchange(request: TokenExchangeRequest): Promise<TokenResponse> {
    const context = await requireRealm(this.deps.repository, this.deps.urls, request.realm);
    const { client } = await this.deps.authenticator.authenticate(context.realm, request.credentials);
    // RFC 6749 §5.2 unauthorized_client: token exchange is a per-client permission.
    if (!client.tokenExchange.enabled) throw oauthError.unauthorizedClient("client may not use token exchange");
    const { subjectToken, subjectTokenType } = checkParameters(request);
    const requestedType = requestedTokenType(request.requestedTokenType);

    const subject = await this.#verifySubject(context, subjectToken, subjectTokenType);
    // RFC 8693 §2.2.2 / §5: the requester must be a party the subject token was issued to or for.
    if (!isIssuedToOrFor(subject, client.clientId)) {
      throw oauthError.invalidRequest("subject_token was not issued to or for this client");
    }
    const subjectScopes = new Set(typeof subject.scope === "string" ? subject.scope.split(" ") : []);
    const requestedScopes = parseScopeParameter(request.scope);
    const granted = grantExchangeScopes(client, requestedScopes, subjectScopes, client.tokenExchange.scopePolicy);
    const audiencesByScope = await scopeAudiences(this.deps.repository, context.realm.name, granted);
    const targets = { audience: request.audience, resource: request.resource };
    const available = availableAudiences(audiencesByScope);
    const aud = await resolveAudience(this.deps.repository, context.realm.name, targets, available, client.clientId);
    const named = targets.audience.length + targets.resource.length > 0;
    const scopes = requestedScopes === undefined && named ? scopesForTargets(audiencesByScope, aud) : granted;
    return this.#issue(context, client, subject, scopes, aud, requestedType);
  }

  async #verifySubject(context: RealmContext, token: string, type: string): Promise<VerifiedAccessToken> {
    // RFC 8693 §2.2.2: an unsupported subject_token_type is invalid_request.
    if (!INTERNAL_SUBJECT_TOKEN_TYPES.has(type)) {
      throw oauthError.invalidRequest("subject_token_type unsupported: use an access_token or jwt type");
    }
    try {
      return await this.deps.verifier.verifyAccessToken(context.realm.name, context.urls.issuer, token);
    } catch (error) {
      // RFC 8693 §2.2.2: an invalid or expired subject token is invalid_request.
      if (error instanceof TokenVerificationError) throw oauthError.invalidRequest(`subject_token ${error.reason}`);
      throw error;
    }
  }

  async #issue(
    { realm, urls }: RealmContext,
    client: Client,
    subject: VerifiedAccessToken,
    scopes: string[],
    aud: string[],
    requestedType: string,
  ): Promise<TokenResponse> {
    const now = epochSeconds(this.deps.clock.now());
    const claims: TokenClaims = {
      sub: subject.sub,
      aud: aud.length === 1 ? aud[0] : aud,
      // An exchanged token never outlives its subject token, so exchanges cannot extend a grant.
      exp: Math.min(now + realm.accessTokenLifespan, subject.exp),
      azp: client.clientId,
      ...(subject.sid !== undefined && { sid: subject.sid }),
    };
    const scope = scopes.join(" ");
    if (requestedType === TokenType.idToken) {
      const signed = await this.deps.issuer.issueIdToken(realm, urls.issuer, { ...claims, aud: client.clientId });
      // RFC 8693 §2.2.1: a token that is not an access token has token_type N_A.
      return { accessToken: signed.token, issuedTokenType: TokenType.idToken, tokenType: "N_A", expiresIn: signed.expiresIn, scope, jti: signed.jti };
    }
    const signed = await this.deps.issuer.issueAccessToken(realm, urls.issuer, {
      ...claims,
      client_id: client.clientId,
      ...(scope && { scope }),
      ...(subject.act !== undefined && { act: subject.act }),
    });
    return { accessToken: signed.token, issuedTokenType: TokenType.accessToken, tokenType: "Bearer", expiresIn: signed.expiresIn, scope, jti: signed.jti };
  }
}

/** RFC 8693 §2.1 parameter rules that need no storage. */
function checkParameters(request: TokenExchangeRequest): { subjectToken: string; subjectTokenType: string } {
  // RFC 8693 §2.1: subject_token and subject_token_type are REQUIRED.
  if (!request.subjectToken) throw oauthError.invalidRequest("subject_token is required");
  if (!request.subjectTokenType) throw oauthError.invalidRequest("subject_token_type is required");
  // RFC 8693 §2.1: actor_token_type is REQUIRED when actor_token is present and MUST NOT be sent without it.
  if (Boolean(request.actorToken) !== Boolean(request.actorTokenType)) {
    throw oauthError.invalidRequest("actor_token and actor_token_type must be sent together");
  }
  // Permissions for these kinds of exchange are not granted to any client yet.
  if (request.actorToken) throw oauthError.unauthorizedClient("client may not exchange with an actor_token (delegation)");
  if (request.requestedSubject) throw oauthError.unauthorizedClient("client may not impersonate (requested_subject)");
  if (request.subjectIssuer) throw oauthError.unauthorizedClient("client may not exchange tokens of identity providers (subject_issuer)");
  if (request.requestedIssuer) throw oauthError.unauthorizedClient("client may not request identity provider tokens (requested_issuer)");
  return { subjectToken: request.subjectToken, subjectTokenType: request.subjectTokenType };
}

/** RFC 8693 §2.1 requested_token_type: access_token by default, or id_token. */
function requestedTokenType(requested: string | undefined): string {
  if (!requested || requested === TokenType.accessToken) return TokenType.accessToken;
  if (requested === TokenType.idToken) return TokenType.idToken;
  if (requested === TokenType.refreshToken) {
    throw oauthError.invalidRequest("requested_token_type refresh_token unsupported: refresh tokens need a session");
  }
  throw oauthError.invalidRequest("requested_token_type unsupported");
}

/** The subject token was issued to (`azp`/`client_id`) or for (`aud`) this client. */
function isIssuedToOrFor(subject: VerifiedAccessToken, clientId: string): boolean {
  if (subject.azp === clientId || subject.client_id === clientId) return true;
  const aud = subject.aud;
  return aud === clientId || (Array.isArray(aud) && aud.includes(clientId));
}
