import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";

/** One party of the `act` chain (RFC 8693 §4.1): who acted, outermost (most recent) first. */
export interface Actor {
  /** The actor's `sub` (for a service, its service-account id). */
  sub: string;
  /** The actor's issuer, when the claim names one. */
  iss?: string;
  /** The actor's `client_id`, when the claim names one. */
  clientId?: string;
}

/** A Tessera access token that passed verification, and what it says. */
export interface VerifiedToken {
  /** `sub`: the user or service account the token is about. */
  subject: string;
  /** `client_id`: the client the token was issued to. */
  clientId: string | undefined;
  /** `scope`, split. */
  scopes: string[];
  /** `aud`, always a list. */
  audience: string[];
  /** The `act` chain, most recent actor first; empty when nobody acted. */
  actors: Actor[];
  /** `exp`. */
  expiresAt: Date;
  /** Every claim. */
  claims: JWTPayload;
}

/** Options of {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** The realm issuer, `{publicUrl}/realms/{realm}`: tokens must carry it as `iss`. */
  issuer: string;
  /** This service's client ID (or IDs): tokens must name one of them in `aud`. */
  audience: string | string[];
  /** The realm JWKS; `{issuer}/protocol/openid-connect/certs` when absent. */
  jwksUrl?: string;
  /** Scopes every token must carry. */
  requiredScopes?: string[];
  /** Seconds of clock skew tolerated on `exp`/`nbf` (default 0). */
  clockToleranceSeconds?: number;
  /** Least time between two JWKS fetches, also for an unknown `kid` (default 30 000 ms). */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again (default 600 000 ms). */
  jwksMaxAgeMs?: number;
}

/** Why a token was not accepted; the message names the rule, never the token. */
export class TokenVerificationError extends Error {
  /** True when the token could not be checked (the JWKS was unreachable), not found bad: worth a retry. */
  readonly unavailable: boolean;

  /** A refusal saying `message`; `unavailable` when the JWKS could not be fetched. */
  constructor(message: string, options: { cause?: unknown; unavailable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = "TokenVerificationError";
    this.unavailable = options.unavailable ?? false;
  }
}

/** Checks a bearer token and returns what it says, or rejects with a {@link TokenVerificationError}. */
export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

/**
 * A verifier of Tessera access tokens (RFC 9068): signature by the realm's JWKS (fetched once, cached, fetched
 * again when a token names an unknown `kid`, as after a key rotation), `typ: at+jwt`, `iss`, `aud`, `exp`.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl ?? `${options.issuer}/protocol/openid-connect/certs`), {
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
  });
  return async (token) => {
    let payload: JWTPayload;
    try {
      // RFC 9068 §4: typ at+jwt, iss, aud and exp are all checked; exp and sub must be present.
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        typ: "at+jwt",
        requiredClaims: ["exp", "sub"],
        clockTolerance: options.clockToleranceSeconds ?? 0,
      }));
    } catch (error) {
      const unavailable = error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError);
      throw new TokenVerificationError(unavailable ? "the realm JWKS could not be fetched" : reasonOf(error), { cause: error, unavailable });
    }
    const scopes = typeof payload.scope === "string" && payload.scope ? payload.scope.split(" ") : [];
    const missing = (options.requiredScopes ?? []).filter((scope) => !scopes.includes(scope));
    if (missing.length > 0) throw new TokenVerificationError(`token lacks scope ${missing.join(" ")}`);
    return {
      subject: payload.sub as string,
      clientId: typeof payload.client_id === "string" ? payload.client_id : undefined,
      scopes,
      audience: typeof payload.aud === "string" ? [payload.aud] : (payload.aud ?? []),
      actors: actorChain(payload.act),
      expiresAt: new Date((payload.exp as number) * 1000),
      claims: payload,
    };
  };
}

/** The nested `act` claim (RFC 8693 §4.1) as a list, most recent actor first. */
function actorChain(act: unknown): Actor[] {
  const chain: Actor[] = [];
  for (let node = act; isRecord(node) && typeof node.sub === "string"; node = node.act) {
    chain.push({
      sub: node.sub,
      ...(typeof node.iss === "string" ? { iss: node.iss } : {}),
      ...(typeof node.client_id === "string" ? { clientId: node.client_id } : {}),
    });
  }
  return chain;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** A short reason from a jose error: the failed claim or check, never the token. */
function reasonOf(error: errors.JOSEError): string {
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWTClaimValidationFailed) return `token claim ${error.claim} failed: ${error.reason}`;
  if (error instanceof errors.JWKSNoMatchingKey) return "token signed by a key the realm does not publish";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token signature invalid";
  return `token invalid (${error.code})`;
}
