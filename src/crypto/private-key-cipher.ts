import { CompactEncrypt, compactDecrypt, type JWK } from "jose";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encrypts private keys for storage under the master key (`TESSERA_MASTER_KEY`): a compact JWE
 * with direct AES-256-GCM encryption. The realm and key id are bound as authenticated data in the
 * protected header, so a ciphertext copied onto another key's record fails to decrypt.
 */
export class PrivateKeyCipher {
  readonly #masterKey: Uint8Array;

  /** @param masterKey 32 random bytes. */
  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== 32) throw new Error("the master key must be 32 bytes");
    this.#masterKey = masterKey;
  }

  /** Encrypts a private JWK, bound to `binding` (for example `realm/kid`). */
  async encrypt(jwk: JWK, binding: string): Promise<string> {
    return new CompactEncrypt(encoder.encode(JSON.stringify(jwk)))
      .setProtectedHeader({ alg: "dir", enc: "A256GCM", "tessera.binding": binding })
      .encrypt(this.#masterKey);
  }

  /** Decrypts a private JWK; throws when the master key or the binding is wrong. */
  async decrypt(jwe: string, binding: string): Promise<JWK> {
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, this.#masterKey, {
      keyManagementAlgorithms: ["dir"],
      contentEncryptionAlgorithms: ["A256GCM"],
    });
    if (protectedHeader["tessera.binding"] !== binding) throw new Error("private key record does not match its key id");
    return JSON.parse(decoder.decode(plaintext)) as JWK;
  }
}
