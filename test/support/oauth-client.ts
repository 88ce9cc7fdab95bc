import assert from "node:assert/strict";
import { SignJWT, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type CryptoKey, type JWTPayload } from "jose";
import type { KeyedClient } from "./test-realm.js";

/** An answer of the token endpoint: status, headers and parsed JSON body. */
export interface TokenAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Options of {@link postForm}. */
export interface PostFormOptions {
  /** `[clientId, secret]` sent as client_secret_basic. */
  basic?: [string, string];
  headers?: Record<string, string>;
}

/** POSTs a form (params as pairs, so parameters can repeat) with real HTTP, like any OAuth client. */
export async function postForm(url: string, params: [string, string][] | Record<string, string>, options: PostFormOptions = {}): Promise<TokenAnswer> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", ...options.headers };
  if (options.basic) {
    const [id, secret] = options.basic.map((part) => encodeURIComponent(part));
    headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
  }
  const response = await fetch(url, { method: "POST", headers, body: new URLSearchParams(params) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Verifies an issued token against the realm's published JWKS, as a resource server would. */
export async function verifyWithJwks(token: string, issuer: string, typ = "at+jwt"): Promise<JWTPayload> {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/protocol/openid-connect/certs`));
  const { payload } = await jwtVerify(token, jwks, { issuer, typ });
  return payload;
}

/** The protected header of a JWT. */
export const headerOf = decodeProtectedHeader;

/** A client_credentials access token of `clientId` (client_secret_basic) with `scope`, or its default scopes. */
export async function clientCredentialsToken(tokenUrl: string, clientId: string, secret: string, scope?: string): Promise<string> {
  const answer = await postForm(tokenUrl, { grant_type: "client_credentials", ...(scope && { scope }) }, { basic: [clientId, secret] });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.access_token as string;
}

/** Builds an RFC 7523 client assertion; `overrides` changes claims, `key` signs with another key. */
export async function clientAssertion(
  client: KeyedClient,
  audience: string,
  overrides: JWTPayload = {},
  key: { privateKey: CryptoKey; kid: string } = client,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: client.clientId, sub: client.clientId, aud: audience, jti: crypto.randomUUID(), iat: now, exp: now + 60, ...overrides })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .sign(key.privateKey);
}
