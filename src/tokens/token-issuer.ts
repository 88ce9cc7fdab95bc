import { randomUUID } from "node:crypto";
import type { JWTPayload } from "jose";
import { epochSeconds, type Clock, type Realm } from "../domain/index.js";
import { signCompactJws } from "./compact-jws.js";
import type { RealmKeyStore } from "./realm-keys.js";

/** JWT `typ` of access tokens (RFC 9068 §2.1). */
export const ACCESS_TOKEN_TYP = "at+jwt";

/** Claims the caller decides; `iss` is set by the issuer, and `iat` and `jti` when the caller leaves them out. */
export interface TokenClaims extends JWTPayload {
  sub: string;
  aud: string | string[];
  /** Expiry, seconds since the epoch. */
  exp: number;
}

/** A signed token and what a response needs to say of it. */
export interface SignedToken {
  token: string;
  jti: string;
  /** Seconds from now until `exp`. */
  expiresIn: number;
}

/** Signs a realm's tokens with its active key (node:crypto one-shot signatures, see `compact-jws.ts`). */
export class TokenIssuer {
  constructor(
    private readonly keys: RealmKeyStore,
    private readonly clock: Clock,
  ) {}

  /** Signs an RFC 9068 access token (`typ: at+jwt`). */
  issueAccessToken(realm: Realm, issuer: string, claims: TokenClaims): Promise<SignedToken> {
    return this.#sign(realm, issuer, claims, ACCESS_TOKEN_TYP);
  }

  /** Signs an OpenID Connect ID token (`typ: JWT`). */
  issueIdToken(realm: Realm, issuer: string, claims: TokenClaims): Promise<SignedToken> {
    return this.#sign(realm, issuer, claims, "JWT");
  }

  async #sign(realm: Realm, issuer: string, claims: TokenClaims, typ: string): Promise<SignedToken> {
    const key = await this.keys.signingKey(realm);
    const jti = claims.jti ?? randomUUID();
    // The caller's iat when it gave one: then exp and iat come from the same instant.
    const iat = claims.iat ?? epochSeconds(this.clock.now());
    const payload = { ...claims, iss: issuer, iat, jti };
    checkNumericDates(payload);
    const token = signCompactJws({ alg: key.algorithm, typ, kid: key.kid }, payload, key);
    return { token, jti, expiresIn: Math.max(0, claims.exp - iat) };
  }
}

/** RFC 7519 §2: a NumericDate is a number; JSON would write NaN or Infinity as null. */
function checkNumericDates(claims: JWTPayload): void {
  for (const claim of ["iat", "nbf", "exp"] as const) {
    const value = claims[claim];
    if (value !== undefined && !Number.isFinite(value)) throw new TypeError(`"${claim}" claim must be a finite number`);
  }
}
