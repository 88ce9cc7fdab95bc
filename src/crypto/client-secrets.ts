import { hash, verify } from "@node-rs/argon2";

/**
 * Hashes a client secret for storage: Argon2id with a random salt (OWASP parameters), as a PHC
 * string. The secret itself is never stored.
 */
export function hashClientSecret(secret: string): Promise<string> {
  return hash(secret);
}

/** A hash of a random secret, verified against when the client is unknown so that timing does not tell. */
const decoyHash = hash(crypto.randomUUID());

/**
 * Checks a presented secret against a stored hash in constant time with respect to the secret.
 * Without a stored hash the check runs against a decoy and returns false, so an unknown client
 * costs the same as a wrong secret.
 */
export async function verifyClientSecret(storedHash: string | undefined, presented: string): Promise<boolean> {
  if (storedHash === undefined) {
    await verify(await decoyHash, presented);
    return false;
  }
  try {
    return await verify(storedHash, presented);
  } catch {
    return false;
  }
}
