import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import { basicAuthorization, introspectionSecretBinding, type Clock, type IdentityProvider } from "../domain/index.js";
import type { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import { fetchProviderJson, ProviderUnavailableError } from "./provider-fetch.js";
import type { ProviderKeyCache } from "./provider-keys.js";

/** Why an external token was refused, in words safe to show a client. */
export class ExternalTokenError extends Error {
  override readonly name = "ExternalTokenError";
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Longest external token accepted, characters (a JWT of a sane provider is a few KiB). */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** Clock skew allowed on `exp`/`nbf`/`iat` of external tokens, seconds. */
const LEEWAY_SECONDS = 30;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Verifies tokens of a configured identity provider (RFC 8725 practices): a JWT by signature with
 * the provider's keys only, `iss`, `aud` among the accepted audiences, `exp`/`nbf`/`iat` with a small
 * leeway, the maximum age, and the provider's algorithm allow-list (no `none`, no HMAC); an opaque
 * token by the provider's RFC 7662 introspection endpoint.
 */
export class ExternalTokenVerifier {
  constructor(
    private readonly keys: ProviderKeyCache,
    private readonly cipher: MasterKeyCipher,
    private readonly clock: Clock,
  ) {}

  /** The token's claims; throws {@link ExternalTokenError} or {@link ProviderUnavailableError}. */
  async verify(realm: string, provider: IdentityProvider, token: string): Promise<JWTPayload> {
    if (token.length > MAX_TOKEN_LENGTH) throw new ExternalTokenError("too large");
    if (JWT_SHAPE.test(token)) return this.#verifyJwt(realm, provider, token);
    if (provider.introspection) return this.#introspect(realm, provider, token);
    throw new ExternalTokenError("malformed");
  }

  async #verifyJwt(realm: string, provider: IdentityProvider, token: string): Promise<JWTPayload> {
    try {
      decodeProtectedHeader(token);
      const { payload } = await jwtVerify(token, this.keys.resolver(realm, provider), {
        issuer: provider.issuer,
        audience: provider.audiences,
        algorithms: provider.algorithms,
        clockTolerance: LEEWAY_SECONDS,
        currentDate: this.clock.now(),
        requiredClaims: ["exp", ...(provider.maxTokenAge !== undefined ? ["iat"] : [])],
        ...(provider.maxTokenAge !== undefined && { maxTokenAge: provider.maxTokenAge }),
      });
      return payload;
    } catch (error) {
      if (error instanceof ProviderUnavailableError) throw error;
      throw new ExternalTokenError(reasonOf(error));
    }
  }

  /** RFC 7662 §2: ask the provider; only an active answer for this issuer and audience is accepted. */
  async #introspect(realm: string, provider: IdentityProvider, token: string): Promise<JWTPayload> {
    const config = provider.introspection;
    if (!config) throw new ExternalTokenError("malformed");
    const secret = await this.cipher.open(config.encryptedClientSecret, introspectionSecretBinding(realm, provider.alias));
    const answer = (await fetchProviderJson("introspection", config.endpoint, {
      method: "POST",
      headers: { authorization: basicAuthorization(config.clientId, secret), "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ token }).toString(),
    })) as JWTPayload & { active?: unknown };
    if (typeof answer !== "object" || answer === null) throw new ProviderUnavailableError("introspection answer is not an object");
    if (answer.active !== true) throw new ExternalTokenError("inactive");
    if (answer.iss !== undefined && answer.iss !== provider.issuer) throw new ExternalTokenError("wrong issuer");
    const aud = answer.aud === undefined ? [] : Array.isArray(answer.aud) ? answer.aud : [answer.aud];
    if (aud.length > 0 && !aud.some((a) => provider.audiences.includes(a))) throw new ExternalTokenError("wrong audience");
    const now = this.clock.now().getTime() / 1000;
    if (typeof answer.exp === "number" && answer.exp + LEEWAY_SECONDS < now) throw new ExternalTokenError("expired");
    const { active: _active, ...claims } = answer;
    return claims;
  }
}

/** jose's stable error codes to a reason a client may read. */
function reasonOf(error: unknown): string {
  // jose reports a token older than maxTokenAge as expired on its iat claim.
  if (error instanceof errors.JWTExpired) return error.claim === "iat" ? "too old" : "expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss") return "wrong issuer";
    if (error.claim === "aud") return "wrong audience";
    if (error.claim === "nbf") return "not yet valid";
    if (error.claim === "iat") return error.reason === "check_failed" ? "too old or not yet valid" : "missing iat";
    return `invalid claim ${error.claim}`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "signed with an algorithm the provider may not use";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "signature invalid";
  if (error instanceof errors.JWKSNoMatchingKey) return "signed by an unknown key";
  return "malformed";
}
