import { randomUUID } from "node:crypto";
import { SignJWT, type CryptoKey, type KeyObject, type JWK } from "jose";

/** RFC 7523 §2.2 `client_assertion_type`. */
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Authentication by client secret: `client_secret_basic` (the default) or `client_secret_post` (RFC 6749 §2.3.1). */
export interface ClientSecretAuth {
  /** `client_secret_basic` (an `Authorization: Basic` header) when absent, or `client_secret_post` (body fields). */
  method?: "client_secret_basic" | "client_secret_post";
  /** The client's `client_id`. */
  clientId: string;
  /** The client's secret. */
  clientSecret: string;
}

/** Authentication by a JWT signed with the client's key (`private_key_jwt`, RFC 7523 §2.2). */
export interface PrivateKeyJwtAuth {
  /** Selects this method. */
  method: "private_key_jwt";
  /** The client's `client_id`: the assertion's `iss` and `sub`. */
  clientId: string;
  /** The private key whose public half is in the client's JWKS. */
  privateKey: CryptoKey | KeyObject | JWK | Uint8Array;
  /** JWS algorithm of the key, e.g. `ES256`. */
  alg: string;
  /** `kid` of the key in the client's JWKS. */
  kid?: string;
  /** Assertion lifetime in seconds (default 60; Tessera wants `exp` near). */
  lifetimeSeconds?: number;
}

/** How the library authenticates as a client to Tessera. */
export type ClientAuth = ClientSecretAuth | PrivateKeyJwtAuth;

/** The credentials of one request: an `authorization` header and/or body fields. */
export interface ClientCredentialsParts {
  /** `Authorization: Basic …` for client_secret_basic. */
  authorization?: string;
  /** Form fields: `client_id`, `client_secret` or `client_assertion_type` + `client_assertion`. */
  fields: Record<string, string>;
}

/**
 * The credentials to send with one request. `audience` is the assertion's `aud` for private_key_jwt: the token
 * endpoint URL or the realm issuer (RFC 7523 §3); a fresh `jti` each time, as Tessera accepts each once.
 */
export async function clientCredentialsParts(auth: ClientAuth, audience: string): Promise<ClientCredentialsParts> {
  if (auth.method === "private_key_jwt") {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: auth.alg, ...(auth.kid ? { kid: auth.kid } : {}) })
      .setIssuer(auth.clientId)
      .setSubject(auth.clientId)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + (auth.lifetimeSeconds ?? 60))
      .setJti(randomUUID())
      .sign(auth.privateKey);
    return { fields: { client_id: auth.clientId, client_assertion_type: JWT_BEARER, client_assertion: assertion } };
  }
  if (auth.method === "client_secret_post") {
    return { fields: { client_id: auth.clientId, client_secret: auth.clientSecret } };
  }
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
  const pair = `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`;
  return { authorization: `Basic ${Buffer.from(pair).toString("base64")}`, fields: {} };
}
