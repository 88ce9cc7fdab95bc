import { CompactEncrypt, compactDecrypt, type JWK } from "jose";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encrypts what Tessera must keep secret but use again (private signing keys, identity-provider
 * client secrets, stored upstream tokens) under the master key (`TESSERA_MASTER_KEY`): a compact
 * JWE with direct AES-256-GCM encryption. A `binding` (for example `realm/kid`) is authenticated in
 * the protected header, so a ciphertext copied onto another record fails to decrypt.
 */
export class MasterKeyCipher {
  readonly #masterKey: Uint8Array;

  /** @param masterKey 32 random bytes. */
  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== 32) throw new Error("the master key must be 32 bytes");
    this.#masterKey = masterKey;
  }

  /** Encrypts a string, bound to `binding`. */
  async seal(plaintext: string, binding: string): Promise<string> {
    return new CompactEncrypt(encoder.encode(plaintext))
      .setProtectedHeader({ alg: "dir", enc: "A256GCM", "tessera.binding": binding })
      .encrypt(this.#masterKey);
  }

  /** Decrypts a string; throws when the master key or the binding is wrong. */
  async open(jwe: string, binding: string): Promise<string> {
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, this.#masterKey, {
      keyManagementAlgorithms: ["dir"],
      contentEncryptionAlgorithms: ["A256GCM"],
    });
    if (protectedHeader["tessera.binding"] !== binding) throw new Error("encrypted record does not match its binding");
    return decoder.decode(plaintext);
  }

  /** Encrypts a private JWK, bound to `binding`. */
  encryptJwk(jwk: JWK, binding: string): Promise<string> {
    return this.seal(JSON.stringify(jwk), binding);
  }

  /** Decrypts a private JWK. */
  async decryptJwk(jwe: string, binding: string): Promise<JWK> {
    return JSON.parse(await this.open(jwe, binding)) as JWK;
  }
}
