import type { KeyObject } from "node:crypto";

/** A public key as a JWK for verifying signatures (`use: sig`), with its `kid` when Keycloak named one. */
export function publicJwkOf(key: KeyObject, kid?: string): { kty: string } & Record<string, unknown> {
  const jwk = key.export({ format: "jwk" });
  return { ...jwk, kty: jwk.kty ?? "", use: "sig", ...(kid && { kid }) };
}
