import { createPublicKey, type JsonWebKey } from "node:crypto";
import type { PublicJwk } from "../domain/index.js";

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** Key types a client may sign its assertions with (RFC 7518 §6.1, RFC 8037 §2). */
const ASYMMETRIC_KEY_TYPES = ["EC", "RSA", "OKP"];

/**
 * What is wrong with a JWK registered for `private_key_jwt`, or undefined when it is a usable public
 * key. The message never quotes key material.
 */
export function publicJwkProblem(jwk: PublicJwk): string | undefined {
  const secretMember = PRIVATE_MEMBERS.find((member) => member in jwk);
  if (secretMember !== undefined) {
    return `expected a public key, got a private or symmetric key (member "${secretMember}"); remove it`;
  }
  if (!ASYMMETRIC_KEY_TYPES.includes(jwk.kty)) {
    return `expected kty ${ASYMMETRIC_KEY_TYPES.join(" | ")}, got ${JSON.stringify(jwk.kty)}`;
  }
  try {
    createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
  } catch {
    return `expected a valid ${jwk.kty} public JWK (RFC 7517), got one that does not import`;
  }
  return undefined;
}
