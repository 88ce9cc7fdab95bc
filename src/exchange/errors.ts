import { randomUUID } from "node:crypto";
import { StorageUnavailableError } from "../storage/realm-repository.js";

/**
 * The OAuth error codes Tessera answers with: RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 8707 §2,
 * Keycloak's `not_linked`, plus `not_found` for an unknown realm.
 */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "invalid_grant"
  | "not_linked"
  | "temporarily_unavailable"
  | "server_error"
  | "not_found";

/** Options of an {@link OAuthError}. */
export interface OAuthErrorOptions {
  /** Set when the client tried HTTP Basic authentication: the answer carries `WWW-Authenticate: Basic`. */
  basicChallenge?: boolean;
  /** Where an unlinked user may link an identity provider (`not_linked`). */
  accountLinkUrl?: string;
  /** The underlying failure, for logs only; never shown to the client. */
  cause?: unknown;
  /** Why client authentication failed ({@link ClientAuthFailure}), for metrics only; never shown to the client. */
  reason?: ClientAuthFailure;
  /** A throttled attempt (`temporarily_unavailable`): seconds before the client may retry (HTTP 429 `Retry-After`). */
  retryAfterSeconds?: number;
}

/** Why client authentication failed, as metrics label it; the client always sees the same `invalid_client`. */
export type ClientAuthFailure =
  | "malformed"
  | "unknown_client"
  | "method_not_allowed"
  | "wrong_secret"
  | "bad_assertion"
  | "assertion_replay"
  | "bad_certificate"
  | "bad_admin_token";

/**
 * A refusal that a client sees: an OAuth error code and a description. The description names the
 * parameter or rule that failed and never contains a token, a secret or a stack trace.
 * Both wire adapters turn it into their own shape through one table each.
 */
export class OAuthError extends Error {
  override readonly name = "OAuthError";
  readonly basicChallenge: boolean;
  readonly accountLinkUrl?: string;
  readonly reason?: ClientAuthFailure;
  readonly retryAfterSeconds?: number;

  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    options: OAuthErrorOptions = {},
  ) {
    super(`${code}: ${description}`, { cause: options.cause });
    this.basicChallenge = options.basicChallenge ?? false;
    this.accountLinkUrl = options.accountLinkUrl;
    this.reason = options.reason;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Shorthands for the errors the grants raise, one per code. */
export const oauthError = {
  invalidRequest: (description: string) => new OAuthError("invalid_request", description),
  invalidClient: (basicChallenge: boolean, reason: ClientAuthFailure, cause?: unknown) =>
    new OAuthError("invalid_client", "client authentication failed", { basicChallenge, reason, cause }),
  unauthorizedClient: (description: string) => new OAuthError("unauthorized_client", description),
  unsupportedGrantType: (description: string) => new OAuthError("unsupported_grant_type", description),
  invalidScope: (description: string) => new OAuthError("invalid_scope", description),
  invalidTarget: (description: string) => new OAuthError("invalid_target", description),
  invalidGrant: (description: string) => new OAuthError("invalid_grant", description),
  temporarilyUnavailable: (cause: unknown) =>
    new OAuthError("temporarily_unavailable", "storage is temporarily unavailable, retry later", { cause }),
  /** Too many failed authentication attempts from this address (issue 13): refused before any credential is checked. */
  throttled: (retryAfterSeconds: number) =>
    new OAuthError("temporarily_unavailable", "too many failed authentication attempts, retry later", { retryAfterSeconds }),
  realmNotFound: (realm: string) =>
    new OAuthError("not_found", realm ? `realm ${JSON.stringify(realm)} not found` : "realm not found"),
} as const;

/**
 * Turns any failure into what a client may see: an {@link OAuthError} as it is, an unreachable
 * storage as `temporarily_unavailable`, anything else as `server_error` with an id that is logged
 * with the details (`unexpected` tells the caller to log it).
 */
export function toOAuthError(error: unknown): { error: OAuthError; unexpected: boolean; errorId?: string } {
  if (error instanceof OAuthError) return { error, unexpected: false };
  if (error instanceof StorageUnavailableError) return { error: oauthError.temporarilyUnavailable(error), unexpected: false };
  const errorId = randomUUID();
  const description = `internal error, reference ${errorId}`;
  return { error: new OAuthError("server_error", description, { cause: error }), unexpected: true, errorId };
}
