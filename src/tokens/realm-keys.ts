import { randomUUID } from "node:crypto";
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from "jose";
import type { Clock, Realm, SigningAlgorithm, SigningKey } from "../domain/index.js";
import type { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import type { RealmRepository } from "../storage/realm-repository.js";

/** A key ready to sign with. */
export interface ActiveSigningKey {
  kid: string;
  algorithm: SigningAlgorithm;
  privateKey: CryptoKey | Uint8Array;
}

/** What is cached of one realm's keys. */
interface RealmKeySet {
  loadedAt: number;
  jwks: JSONWebKeySet;
  getKey: JWTVerifyGetKey;
  signing?: ActiveSigningKey;
}

/** Options of {@link RealmKeyStore}. */
export interface RealmKeyStoreOptions {
  /** How long a realm's key set is trusted before it is read again (other instances may rotate). */
  cacheTtlMs?: number;
}

/**
 * Per-realm signing keys: created on first use with the realm's algorithm, kept in the
 * repository with the private half encrypted, cached in memory for a short time.
 */
export class RealmKeyStore {
  readonly #cache = new Map<string, { startedAt: number; set: Promise<RealmKeySet> }>();
  readonly #creating = new Map<string, Promise<RealmKeySet>>();
  readonly #cacheTtlMs: number;

  constructor(
    private readonly repository: RealmRepository,
    private readonly cipher: MasterKeyCipher,
    private readonly clock: Clock,
    options: RealmKeyStoreOptions = {},
  ) {
    this.#cacheTtlMs = options.cacheTtlMs ?? 30_000;
  }

  /** The key that signs the realm's tokens now; created if the realm has none for its algorithm. */
  async signingKey(realm: Realm): Promise<ActiveSigningKey> {
    let set = await this.#keySet(realm.name);
    if (set.signing?.algorithm !== realm.signingAlgorithm) {
      let creating = this.#creating.get(realm.name);
      if (!creating) {
        creating = this.#createKey(realm).finally(() => this.#creating.delete(realm.name));
        this.#creating.set(realm.name, creating);
      }
      set = await creating;
    }
    if (!set.signing) throw new Error(`realm ${realm.name} has no usable signing key`);
    return set.signing;
  }

  /** The public JWK Set of the realm: active and passive keys. */
  async jwks(realm: string): Promise<JSONWebKeySet> {
    return (await this.#keySet(realm)).jwks;
  }

  /**
   * A key resolver for `jwtVerify` over the realm's active and passive keys. An unknown `kid`
   * reloads the set once, so keys created by another instance are found.
   */
  async verificationKeys(realm: string): Promise<JWTVerifyGetKey> {
    const cached = await this.#keySet(realm);
    return async (header, token) => {
      try {
        return await cached.getKey(header, token);
      } catch (error) {
        if (this.clock.now().getTime() - cached.loadedAt < 1000) throw error;
        this.#cache.delete(realm);
        return (await this.#keySet(realm)).getKey(header, token);
      }
    };
  }

  #keySet(realm: string): Promise<RealmKeySet> {
    const cached = this.#cache.get(realm);
    if (cached && this.clock.now().getTime() - cached.startedAt < this.#cacheTtlMs) return cached.set;
    return this.#reload(realm);
  }

  #reload(realm: string): Promise<RealmKeySet> {
    const entry = { startedAt: this.clock.now().getTime(), set: this.#load(realm) };
    this.#cache.set(realm, entry);
    entry.set.catch(() => {
      if (this.#cache.get(realm) === entry) this.#cache.delete(realm);
    });
    return entry.set;
  }

  async #load(realm: string): Promise<RealmKeySet> {
    const keys = await this.repository.listSigningKeys(realm);
    const published = keys.filter((k) => k.state !== "retired");
    const jwks = { keys: published.map((k) => k.publicJwk as JWK) };
    const active = keys.find((k) => k.state === "active");
    return {
      loadedAt: this.clock.now().getTime(),
      jwks,
      getKey: createLocalJWKSet(jwks),
      signing: active && (await this.#unseal(realm, active)),
    };
  }

  async #unseal(realm: string, key: SigningKey): Promise<ActiveSigningKey> {
    const jwk = await this.cipher.decryptJwk(key.encryptedPrivateJwk, `${realm}/${key.kid}`);
    return { kid: key.kid, algorithm: key.algorithm, privateKey: await importJWK(jwk, key.algorithm) };
  }

  /** Creates a key with the realm's algorithm; the realm's other active keys stay published as passive. */
  async #createKey(realm: Realm): Promise<RealmKeySet> {
    const kid = randomUUID();
    const { publicKey, privateKey } = await generateKeyPair(realm.signingAlgorithm, { extractable: true });
    const meta = { kid, alg: realm.signingAlgorithm, use: "sig" };
    const publicJwk = { ...(await exportJWK(publicKey)), ...meta };
    const privateJwk = { ...(await exportJWK(privateKey)), ...meta };
    await this.repository.addSigningKey(realm.name, {
      kid,
      algorithm: realm.signingAlgorithm,
      state: "active",
      publicJwk,
      encryptedPrivateJwk: await this.cipher.encryptJwk(privateJwk, `${realm.name}/${kid}`),
      createdAt: this.clock.now(),
    });
    return this.#reload(realm.name);
  }
}
