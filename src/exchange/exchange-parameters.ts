import { TokenType, type Client } from "../domain/index.js";
import type { PresentedClientCredentials } from "./client-auth.js";
import { oauthError } from "./errors.js";
import { checkProviderPermission } from "./identity-provider-exchange.js";
import { tokenFingerprint } from "./rule-trace.js";

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

/** Token types that name an access token this realm issued. */
export const INTERNAL_TOKEN_TYPES = new Set<string>([TokenType.accessToken, TokenType.jwt]);

/** The request's parameters as a trace shows them: tokens by fingerprint only. */
export function parameterInputs(request: TokenExchangeRequest): Record<string, unknown> {
  return {
    subject_token: tokenFingerprint(request.subjectToken),
    subject_token_type: request.subjectTokenType,
    actor_token: tokenFingerprint(request.actorToken),
    actor_token_type: request.actorTokenType,
    requested_subject: request.requestedSubject,
    subject_issuer: request.subjectIssuer,
    requested_issuer: request.requestedIssuer,
  };
}

/** Which credentials a request presents and where, by name only (never a secret or an assertion). */
export function presentedCredentials(credentials: PresentedClientCredentials): Record<string, string | boolean> {
  const scheme = credentials.authorization?.split(" ")[0];
  return {
    ...(credentials.clientId !== undefined && { client_id: credentials.clientId }),
    ...(scheme !== undefined && { authorization: scheme }),
    ...(credentials.clientSecret !== undefined && { client_secret: true }),
    ...(credentials.clientAssertion !== undefined && { client_assertion: tokenFingerprint(credentials.clientAssertion) ?? "" }),
    ...(credentials.clientCertificate !== undefined && { client_certificate: credentials.clientCertificate.thumbprintS256 }),
  };
}

/** RFC 8693 §2.1 parameter rules that need no storage. */
export function checkParameters(request: TokenExchangeRequest): { subjectToken: string; subjectTokenType: string } {
  // RFC 8693 §2.1: subject_token and subject_token_type are REQUIRED.
  if (!request.subjectToken) throw oauthError.invalidRequest("subject_token is required");
  if (!request.subjectTokenType) throw oauthError.invalidRequest("subject_token_type is required");
  // RFC 8693 §2.1: actor_token_type is REQUIRED when actor_token is present and MUST NOT be sent without it.
  if (Boolean(request.actorToken) !== Boolean(request.actorTokenType)) {
    throw oauthError.invalidRequest("actor_token and actor_token_type must be sent together");
  }
  // RFC 8693 §2.2.2: unsupported token types are invalid_request.
  if (request.actorTokenType && !INTERNAL_TOKEN_TYPES.has(request.actorTokenType)) {
    throw oauthError.invalidRequest("actor_token_type unsupported: use an access_token or jwt type");
  }
  if (request.actorToken && request.requestedSubject) {
    throw oauthError.invalidRequest("requested_subject and actor_token cannot be combined");
  }
  if (request.requestedIssuer && (request.actorToken || request.requestedSubject || request.subjectIssuer)) {
    throw oauthError.invalidRequest("requested_issuer cannot be combined with actor_token, requested_subject or subject_issuer");
  }
  return { subjectToken: request.subjectToken, subjectTokenType: request.subjectTokenType };
}

/** Per-client permissions for the kinds of exchange (EXCHANGE.md "Token exchange"). */
export function checkPermissions(client: Client, request: TokenExchangeRequest, requestedType: string): void {
  // RFC 6749 §5.2 unauthorized_client: each kind of exchange is a permission of the client.
  if (request.actorToken && !client.tokenExchange.delegation) {
    throw oauthError.unauthorizedClient("client may not exchange with an actor_token (delegation)");
  }
  if (request.requestedSubject && !client.tokenExchange.impersonation) {
    throw oauthError.unauthorizedClient("client may not impersonate (requested_subject)");
  }
  // Checked before the alias is looked up, so a client learns nothing about providers it may not use.
  if (request.subjectIssuer) checkProviderPermission(client, request.subjectIssuer);
  if (request.requestedIssuer) checkProviderPermission(client, request.requestedIssuer);
  if (requestedType === TokenType.refreshToken && client.tokenExchange.refreshTokens !== "same_session") {
    throw oauthError.unauthorizedClient("client may not receive refresh tokens (refreshTokens is none)");
  }
}

/** RFC 8693 §2.1 requested_token_type: access_token by default, id_token, or refresh_token. */
export function requestedTokenType(requested: string | undefined): string {
  if (!requested) return TokenType.accessToken;
  if (requested === TokenType.accessToken || requested === TokenType.idToken || requested === TokenType.refreshToken) return requested;
  throw oauthError.invalidRequest("requested_token_type unsupported");
}
