import type { JWTPayload } from "jose";
import { SIGNING_ALGORITHMS, epochSeconds, type Clock, type SigningAlgorithm } from "../domain/index.js";
import { decodeJsonObject, parseCompactJws } from "./compact-jws.js";
import { verifyJws } from "./jws-algorithms.js";
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

/**
 * Verifies tokens the realm issued itself: signature with the realm's own keys (no key from a
 * header), algorithm allow-list, `typ: at+jwt`, `iss`, `exp`/`nbf`, and the RFC 9068 claims.
 * Signatures are checked with node:crypto one-shot calls (see `jws-algorithms.ts`).
 */
export class RealmTokenVerifier {
  /**
   * @param clockSkewSeconds leeway when checking `exp` and `nbf` (RFC 7519 §4.1.4 "some small
   *   leeway"): 0 by default, since one clock (or NTP-synchronised instances) issues and checks them.
   */
  constructor(
    private readonly keys: RealmKeyStore,
    private readonly clock: Clock,
    private readonly clockSkewSeconds = 0,
  ) {}

  /**
   * Verifies a realm access token; throws {@link TokenVerificationError}, or the key store's
   * error when the realm's keys cannot be read.
   */
  async verifyAccessToken(realm: string, issuer: string, token: string): Promise<VerifiedAccessToken> {
    const jws = parseCompactJws(token);
    // RFC 7515 §5.2 steps 1–3: three base64url segments, the header a JSON object in UTF-8
    if (!jws) throw new TokenVerificationError("malformed");
    const { alg, kid } = checkHeader(jws.header);
    // RFC 8725 §3.10: the key is the realm's own, found by kid; jwk, jku, x5u and x5c of the header are never used
    const key = await this.keys.verificationKey(realm, kid);
    // RFC 8725 §3.1: the algorithm is the one of that key, whatever else the allow-list holds
    if (key?.algorithm !== alg) throw new TokenVerificationError("unknown key");
    // RFC 7515 §5.2 step 8
    if (!verifyJws(key, jws.signingInput, jws.signature)) throw new TokenVerificationError("signature invalid");
    const claims = decodeJsonObject(jws.encodedPayload);
    // RFC 7519 §7.2 step 10: the JWT Claims Set is a JSON object
    if (!claims) throw new TokenVerificationError("malformed");
    return checkClaims(claims, issuer, epochSeconds(this.clock.now()), this.clockSkewSeconds);
  }
}

/** The algorithm and key id of a JOSE Header Tessera accepts; throws for any other header. */
function checkHeader(header: Record<string, unknown>): { alg: SigningAlgorithm; kid: string } {
  // RFC 7515 §4.1.11: crit names extensions the recipient must understand; Tessera understands none
  if (header.crit !== undefined) throw new TokenVerificationError("malformed");
  // RFC 7797 §3: b64 false signs the payload unencoded; a JWT's claims are always base64url-encoded (RFC 7519 §7.1)
  if (header.b64 !== undefined && header.b64 !== true) throw new TokenVerificationError("malformed");
  // RFC 7515 §4.1.1, RFC 8725 §3.1: alg from the allow-list only (so never none nor an HMAC)
  const alg = SIGNING_ALGORITHMS.find((allowed) => allowed === header.alg);
  if (!alg) throw new TokenVerificationError("malformed");
  // RFC 7515 §4.1.4: kid is a string, and the only way to name a key here
  if (typeof header.kid !== "string") throw new TokenVerificationError("unknown key");
  // RFC 9068 §4: typ is at+jwt or application/at+jwt, and nothing else
  if (!isAccessTokenType(header.typ)) throw new TokenVerificationError("wrong type");
  return { alg, kid: header.kid };
}

/**
 * RFC 7515 §4.1.9: a media type, compared case-insensitively, `application/` optional; so
 * `AT+JWT` and `Application/At+Jwt` are access tokens too (as jose compares).
 */
function isAccessTokenType(typ: unknown): boolean {
  if (typeof typ !== "string") return false;
  const type = typ.toLowerCase();
  return type === ACCESS_TOKEN_TYP || type === `application/${ACCESS_TOKEN_TYP}`;
}

/**
 * Checks the claims of a token whose signature holds, at `now` (seconds since the epoch), with
 * `skew` seconds of leeway. `iat` is not compared with now (neither did jose's `jwtVerify` without
 * `maxTokenAge`): `exp` and `nbf` bound a token's life.
 */
function checkClaims(claims: Record<string, unknown>, issuer: string, now: number, skew: number): VerifiedAccessToken {
  // RFC 9068 §4: iss exactly the realm's issuer
  if (claims.iss !== issuer) throw new TokenVerificationError("wrong issuer");
  // RFC 9068 §2.2: sub, exp, iat and jti are required; RFC 7519 §4.1.2, §4.1.4, §4.1.6, §4.1.7: their types
  if (typeof claims.sub !== "string" || typeof claims.jti !== "string" || !isNumericDate(claims.exp) || !isNumericDate(claims.iat)) {
    throw new TokenVerificationError("missing claims");
  }
  // RFC 7519 §4.1.5: not accepted before nbf (a NumericDate when present)
  if (claims.nbf !== undefined && !(isNumericDate(claims.nbf) && claims.nbf <= now + skew)) {
    throw new TokenVerificationError("not yet valid");
  }
  // RFC 7519 §4.1.4, RFC 9068 §4: not accepted on or after exp
  if (claims.exp <= now - skew) throw new TokenVerificationError("expired");
  return claims as VerifiedAccessToken;
}

/** RFC 7519 §2: NumericDate, a JSON number (JSON.parse reads 1e400 as Infinity: refused). */
function isNumericDate(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}
