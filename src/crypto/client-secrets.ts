import { hash, verify } from "@node-rs/argon2";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Hashes a client secret for storage: Argon2id with a random salt (OWASP parameters), as a PHC
 * string. The secret itself is never stored.
 */
export function hashClientSecret(secret: string): Promise<string> {
  return hash(secret);
}

/** A hash of a random secret, verified against when the client is unknown so that timing does not tell. */
const decoyHash = hash(randomBytes(16).toString("hex"));

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

/** Options of {@link ClientSecretVerifier}. */
export interface ClientSecretVerifierOptions {
  /** How many verified (client, hash) pairs are remembered. */
  maxEntries?: number;
}

/**
 * Verifies client secrets against their Argon2id hashes, remembering a keyed digest of each secret
 * that verified: later requests of the same client compare HMAC-SHA256 digests in constant time
 * instead of paying for Argon2 again. The digest key lives only in this process; a changed stored
 * hash invalidates the entry. Plain secrets are never kept.
 */
export class ClientSecretVerifier {
  readonly #digestKey = randomBytes(32);
  readonly #verified = new Map<string, { storedHash: string; digest: Buffer }>();
  readonly #maxEntries: number;

  constructor(options: ClientSecretVerifierOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** Checks `presented` against `storedHash` (undefined: unknown client, always false). */
  async verify(cacheKey: string, storedHash: string | undefined, presented: string): Promise<boolean> {
    const digest = createHmac("sha256", this.#digestKey).update(presented).digest();
    const known = this.#verified.get(cacheKey);
    if (known && storedHash !== undefined && known.storedHash === storedHash) {
      if (timingSafeEqual(known.digest, digest)) return true;
    }
    const ok = await verifyClientSecret(storedHash, presented);
    if (ok && storedHash !== undefined) this.#remember(cacheKey, { storedHash, digest });
    return ok;
  }

  #remember(cacheKey: string, entry: { storedHash: string; digest: Buffer }): void {
    this.#verified.delete(cacheKey);
    if (this.#verified.size >= this.#maxEntries) {
      const oldest = this.#verified.keys().next().value;
      if (oldest !== undefined) this.#verified.delete(oldest);
    }
    this.#verified.set(cacheKey, entry);
  }
}
