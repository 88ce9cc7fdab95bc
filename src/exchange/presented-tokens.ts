import type { JWTPayload } from "jose";
import { TokenVerificationError, type VerifiedAccessToken } from "../tokens/token-verifier.js";
import { oauthError } from "./errors.js";
import type { GrantDeps } from "./grant-deps.js";
import type { RealmContext } from "./realm-context.js";
import type { SessionManager } from "./sessions.js";

/** The parameter a token came in, named in refusals. */
export type TokenParameter = "subject_token" | "actor_token";

/**
 * Checks a realm access token presented to a grant: signature and claims (see
 * `RealmTokenVerifier`), and, when it carries a `sid`, that its session is still active.
 * Refusals are `invalid_request` naming the parameter (RFC 8693 §2.2.2).
 */
export async function verifyPresentedToken(
  deps: Pick<GrantDeps, "verifier">,
  sessions: SessionManager,
  context: RealmContext,
  token: string,
  parameter: TokenParameter,
): Promise<VerifiedAccessToken> {
  let claims: VerifiedAccessToken;
  try {
    claims = await deps.verifier.verifyAccessToken(context.realm.name, context.urls.issuer, token);
  } catch (error) {
    // RFC 8693 §2.2.2: an invalid or expired token is invalid_request.
    if (error instanceof TokenVerificationError) throw oauthError.invalidRequest(`${parameter} ${error.reason}`);
    throw error;
  }
  // EXCHANGE.md "Sessions": a token whose session ended is unacceptable.
  if (typeof claims.sid === "string" && !(await sessions.active(context.realm.name, claims.sid))) {
    throw oauthError.invalidRequest(`${parameter} session has ended`);
  }
  return claims;
}

/** The token was issued to (`azp`/`client_id`) or for (`aud`) this client. */
export function isIssuedToOrFor(claims: VerifiedAccessToken, clientId: string): boolean {
  if (claims.azp === clientId || claims.client_id === clientId) return true;
  const aud = claims.aud;
  return aud === clientId || (Array.isArray(aud) && aud.includes(clientId));
}

/** The space-delimited `scope` claim as a set. */
export function scopesOf(claims: JWTPayload): Set<string> {
  return new Set(typeof claims.scope === "string" && claims.scope !== "" ? claims.scope.split(" ") : []);
}
