import type { RealmUrls } from "../domain/index.js";
import type { AuthThrottle } from "../exchange/auth-throttle.js";
import { checkRealmAccessToken, issuedToClient, scopesOf } from "../exchange/presented-tokens.js";
import type { SessionManager } from "../exchange/sessions.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { RealmTokenVerifier } from "../tokens/token-verifier.js";
import { MASTER_REALM, type AdminPrincipal } from "./admin-access.js";

/** Why an admin call's credentials were refused; safe to show the caller. */
export class AdminAuthenticationError extends Error {
  override readonly name = "AdminAuthenticationError";
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** What {@link AdminTokenAuthenticator} checks tokens with. */
export interface AdminTokenAuthenticatorDeps {
  repository: RealmRepository;
  verifier: RealmTokenVerifier;
  sessions: SessionManager;
  urls: (realm: string) => RealmUrls;
  /** Throttles refused tokens per source address (issue 13); none: every call is checked. */
  throttle?: AuthThrottle;
}

/** `Bearer <token>` (RFC 6750 §2.1; the scheme is case-insensitive, RFC 7235 §2.1). */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Authenticates an AdminService call by its bearer access token: a token Tessera issued in the
 * {@link MASTER_REALM} (signature with that realm's keys, issuer, `typ: at+jwt`, expiry), not
 * revoked, whose session (if any) is active and whose client still exists and is enabled. Tokens
 * of any other realm fail on issuer or key. Storage failures pass through.
 */
export class AdminTokenAuthenticator {
  constructor(private readonly deps: AdminTokenAuthenticatorDeps) {}

  /**
   * The caller of a call with this `authorization` header, from `sourceAddress`; throws
   * {@link AdminAuthenticationError}, or a throttled `temporarily_unavailable` OAuthError after too
   * many refused tokens from that address (checked before the token is).
   */
  async authenticate(authorization: string | null, sourceAddress?: string): Promise<AdminPrincipal> {
    const attempt = { kind: "admin_bearer", realm: MASTER_REALM, clientId: "", sourceAddress } as const;
    const presented = authorization !== null && authorization !== "";
    const check = () => this.#authenticate(authorization);
    // A call without credentials is no failed attempt.
    const failureOf = (error: unknown) => (presented && error instanceof AdminAuthenticationError ? "bad_admin_token" : undefined);
    return this.deps.throttle?.guard(attempt, check, failureOf) ?? check();
  }

  async #authenticate(authorization: string | null): Promise<AdminPrincipal> {
    // RFC 6750 §3.1: a request without credentials gets no error code, just the challenge.
    if (authorization === null || authorization === "") throw new AdminAuthenticationError("bearer token required");
    const token = BEARER.exec(authorization)?.[1];
    if (token === undefined) throw new AdminAuthenticationError("expected an authorization header: Bearer <access token>");
    const { repository, verifier, sessions, urls } = this.deps;
    const checked = await checkRealmAccessToken(verifier, sessions, MASTER_REALM, urls(MASTER_REALM).issuer, token);
    // RFC 6750 §3.1 invalid_token: expired, malformed, not ours, or its session ended.
    if ("rejected" in checked) throw new AdminAuthenticationError(`access token ${checked.rejected}`);
    const { claims } = checked;
    if (await repository.isTokenRevoked(MASTER_REALM, claims.jti)) throw new AdminAuthenticationError("access token revoked");
    const clientId = issuedToClient(claims) ?? "";
    const client = clientId === "" ? undefined : await repository.getClient(MASTER_REALM, clientId);
    // A disabled or deleted admin client loses its access at once, whatever its tokens say.
    if (!client?.enabled) throw new AdminAuthenticationError("access token of an unknown or disabled client");
    return { clientId, subject: claims.sub, tokenId: claims.jti, scopes: scopesOf(claims) };
  }
}
