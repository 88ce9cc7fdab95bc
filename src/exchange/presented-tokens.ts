import type { JWTPayload } from "jose";
import { TokenVerificationError, type VerifiedAccessToken } from "../tokens/token-verifier.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import type { RealmContext } from "./realm-context.js";
import type { SessionManager } from "./sessions.js";

/** The parameter a token came in, named in refusals. */
export type TokenParameter = "subject_token" | "actor_token";

/** A realm access token that checked out, or why not, in words safe to show its holder. */
export type AccessTokenCheck = { claims: VerifiedAccessToken } | { rejected: string };

/**
 * Checks a realm access token: signature and claims (see `RealmTokenVerifier`), and, when it carries
 * a `sid`, that its session is still active (EXCHANGE.md "Sessions"). Storage failures are thrown.
 */
export async function checkRealmAccessToken(
  verifier: GrantDeps["verifier"],
  sessions: SessionManager,
  realm: string,
  issuer: string,
  token: string,
): Promise<AccessTokenCheck> {
  let claims: VerifiedAccessToken;
  try {
    claims = await verifier.verifyAccessToken(realm, issuer, token);
  } catch (error) {
    if (error instanceof TokenVerificationError) return { rejected: error.reason };
    throw error;
  }
  if (typeof claims.sid === "string" && !(await sessions.active(realm, claims.sid))) return { rejected: "session has ended" };
  return { claims };
}

/**
 * Checks a realm access token presented to a grant ({@link checkRealmAccessToken}). Refusals are
 * `invalid_request` naming the parameter (RFC 8693 §2.2.2).
 */
export async function verifyPresentedToken(
  deps: Pick<GrantDeps, "verifier">,
  sessions: SessionManager,
  context: RealmContext,
  token: string,
  parameter: TokenParameter,
): Promise<VerifiedAccessToken> {
  const checked = await checkRealmAccessToken(deps.verifier, sessions, context.realm.name, context.urls.issuer, token);
  // RFC 8693 §2.2.2: an invalid or expired token, or one whose session ended, is invalid_request.
  if ("rejected" in checked) throw oauthError.invalidRequest(`${parameter} ${checked.rejected}`);
  return checked.claims;
}

/** The client a token was issued to: its `client_id` (RFC 9068), else its `azp`. */
export function issuedToClient(claims: JWTPayload): string | undefined {
  return typeof claims.client_id === "string" ? claims.client_id : typeof claims.azp === "string" ? claims.azp : undefined;
}

/** The token was issued to (`azp`/`client_id`) or for (`aud`) this client. */
export function isIssuedToOrFor(claims: JWTPayload, clientId: string): boolean {
  if (claims.azp === clientId || claims.client_id === clientId) return true;
  const aud = claims.aud;
  return aud === clientId || (Array.isArray(aud) && aud.includes(clientId));
}

/** The space-delimited `scope` claim as a set. */
export function scopesOf(claims: JWTPayload): Set<string> {
  return new Set(typeof claims.scope === "string" && claims.scope !== "" ? claims.scope.split(" ") : []);
}
