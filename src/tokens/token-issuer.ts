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
    const payload = tokenPayload(issuer, claims, this.clock);
    const token = signCompactJws({ alg: key.algorithm, typ, kid: key.kid }, payload, key);
    return { token, jti: payload.jti, expiresIn: Math.max(0, claims.exp - payload.iat) };
  }
}

/** The issuer's signing methods, as the grants use them. */
export type TokenSigner = Pick<TokenIssuer, "issueAccessToken" | "issueIdToken">;

/** The payload of an issued token: the caller's claims with `iss`, and `iat` and `jti` unless given. */
function tokenPayload(issuer: string, claims: TokenClaims, clock: Clock): TokenClaims & { iss: string; iat: number; jti: string } {
  // The caller's iat when it gave one: then exp and iat come from the same instant.
  const payload = { ...claims, iss: issuer, iat: claims.iat ?? epochSeconds(clock.now()), jti: claims.jti ?? randomUUID() };
  checkNumericDates(payload);
  return payload;
}

/**
 * ExplainExchange's issuer: the token a grant would sign, as an unsigned JWT (`alg: none`, RFC 7519
 * §6) that only shows its claims; no key is used or created, and it is never handed out.
 */
export class UnsignedTokenPreview implements TokenSigner {
  constructor(private readonly clock: Clock) {}

  issueAccessToken(_realm: Realm, issuer: string, claims: TokenClaims): Promise<SignedToken> {
    return Promise.resolve(this.#preview(issuer, claims));
  }

  issueIdToken(_realm: Realm, issuer: string, claims: TokenClaims): Promise<SignedToken> {
    return Promise.resolve(this.#preview(issuer, claims));
  }

  #preview(issuer: string, claims: TokenClaims): SignedToken {
    const payload = tokenPayload(issuer, claims, this.clock);
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    return { token: `${part({ alg: "none" })}.${part(payload)}.`, jti: payload.jti, expiresIn: Math.max(0, claims.exp - payload.iat) };
  }
}

/** RFC 7519 §2: a NumericDate is a number; JSON would write NaN or Infinity as null. */
function checkNumericDates(claims: JWTPayload): void {
  for (const claim of ["iat", "nbf", "exp"] as const) {
    const value = claims[claim];
    if (value !== undefined && !Number.isFinite(value)) throw new TypeError(`"${claim}" claim must be a finite number`);
  }
}
