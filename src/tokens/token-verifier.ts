import { errors, jwtVerify, type JWTPayload } from "jose";
import { SIGNING_ALGORITHMS, type Clock } from "../domain/index.js";
import type { RealmKeyStore } from "./realm-keys.js";
import { ACCESS_TOKEN_TYP } from "./token-issuer.js";

/** Why a token was refused, in words safe to show a client. */
export type TokenRejection =
  | "malformed"
  | "expired"
  | "not yet valid"
  | "signature invalid"
  | "wrong issuer"
  | "wrong type"
  | "missing claims"
  | "unknown key";

/** Thrown by {@link RealmTokenVerifier} with a reason a client may read. */
export class TokenVerificationError extends Error {
  override readonly name = "TokenVerificationError";
  constructor(readonly reason: TokenRejection) {
    super(`token ${reason}`);
  }
}

/** Claims of a verified realm access token. */
export interface VerifiedAccessToken extends JWTPayload {
  iss: string;
  sub: string;
  exp: number;
  iat: number;
  jti: string;
}

/** Allowed clock skew when checking `exp`/`nbf`/`iat`, seconds. */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Verifies tokens the realm issued itself: signature with the realm's own keys (no key from a
 * header), algorithm allow-list, `typ: at+jwt`, `iss`, `exp`/`nbf`, and the RFC 9068 claims.
 */
export class RealmTokenVerifier {
  constructor(
    private readonly keys: RealmKeyStore,
    private readonly clock: Clock,
  ) {}

  /** Verifies a realm access token; throws {@link TokenVerificationError}. */
  async verifyAccessToken(realm: string, issuer: string, token: string): Promise<VerifiedAccessToken> {
    const getKey = await this.keys.verificationKeys(realm);
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer,
        typ: ACCESS_TOKEN_TYP,
        algorithms: [...SIGNING_ALGORITHMS],
        requiredClaims: ["sub", "exp", "iat", "jti"],
        currentDate: this.clock.now(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      return payload as VerifiedAccessToken;
    } catch (error) {
      if (!(error instanceof errors.JOSEError || error instanceof TypeError)) throw error; // storage failures pass through
      throw new TokenVerificationError(rejectionOf(error));
    }
  }
}

/** Maps jose's stable error codes to a reason; anything unexpected is "malformed". */
function rejectionOf(error: unknown): TokenRejection {
  if (error instanceof errors.JWTExpired) return "expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss") return "wrong issuer";
    if (error.claim === "typ") return "wrong type";
    if (error.claim === "nbf" || error.claim === "iat") return "not yet valid";
    return "missing claims";
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "signature invalid";
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return "unknown key";
  return "malformed";
}
