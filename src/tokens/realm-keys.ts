import { randomUUID, type JsonWebKey } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from "jose";
import { SIGNING_ALGORITHMS, type Clock, type Realm, type SigningAlgorithm, type SigningKey, type SigningKeyState } from "../domain/index.js";
import type { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import { importJwsKey, type JwsKey } from "./jws-algorithms.js";

/** A key ready to sign with: the private half, converted once when unsealed. */
export interface ActiveSigningKey extends JwsKey {
  kid: string;
}

/** What is cached of one realm's keys. */
interface RealmKeySet {
  loadedAt: number;
  jwks: JSONWebKeySet;
  /** The public halves of the published keys (active and passive), by kid. */
  verifying: ReadonlyMap<string, JwsKey>;
  /** The active key as stored, its private half still sealed. */
  active?: SigningKey;
  /** The active key unsealed, on first use: publishing and verifying never need the master key. */
  signing?: Promise<ActiveSigningKey>;
}

/** Thrown by {@link RealmKeyStore.importKey} and {@link RealmKeyStore.rotate} with a reason an administrator may read. */
export class SigningKeyError extends Error {
  override readonly name = "SigningKeyError";
}

/** Members of a JWK that belong to the private half (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** Extra seconds a passive key stays published beyond the tokens it signed (clock skew of verifiers). */
const RETIREMENT_MARGIN_MS = 60_000;

/** A key's state at `now`: a passive key whose `retireAt` has passed counts as retired. */
export function effectiveKeyState(key: SigningKey, now: Date): SigningKeyState {
  if (key.state === "passive" && key.retireAt !== undefined && key.retireAt <= now) return "retired";
  return key.state;
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

  /**
   * The key that signs the realm's tokens now; created if the realm has none for its algorithm.
   * Rejects with jose's `JWEDecryptionFailed` when the master key is not the one it was sealed with.
   */
  async signingKey(realm: Realm): Promise<ActiveSigningKey> {
    let set = await this.#keySet(realm.name);
    if (set.active?.algorithm !== realm.signingAlgorithm) {
      let creating = this.#creating.get(realm.name);
      if (!creating) {
        creating = this.#createKey(realm).finally(() => this.#creating.delete(realm.name));
        this.#creating.set(realm.name, creating);
      }
      set = await creating;
    }
    const { active } = set;
    if (!active) throw new Error(`realm ${realm.name} has no usable signing key`);
    set.signing ??= this.#unseal(realm.name, active);
    return set.signing;
  }

  /**
   * The realm's keys, newest first, each with its state as of now; passive keys past their
   * `retireAt` are recorded as retired on the way (they left the JWKS at that time already).
   */
  async list(realm: string): Promise<SigningKey[]> {
    const now = this.clock.now();
    const keys = await this.repository.listSigningKeys(realm);
    for (const key of keys) {
      if (key.state !== "retired" && effectiveKeyState(key, now) === "retired") {
        await this.repository.updateSigningKeyState(realm, key.kid, "retired", key.retireAt);
        key.state = "retired";
      }
    }
    return keys;
  }

  /**
   * Rotation: a new active key with `algorithm` (default the realm's), or the passive key
   * `activateKid`; every other active key turns passive and stays in the JWKS until every token it
   * signed has expired (see {@link retirementTime}). Returns the new active key.
   */
  async rotate(realm: Realm, options: { algorithm?: SigningAlgorithm; activateKid?: string } = {}): Promise<SigningKey> {
    if (options.activateKid !== undefined) {
      const key = (await this.repository.listSigningKeys(realm.name)).find((k) => k.kid === options.activateKid);
      if (!key || effectiveKeyState(key, this.clock.now()) !== "passive") {
        throw new SigningKeyError(`realm ${realm.name} has no passive key ${options.activateKid}`);
      }
      await this.repository.updateSigningKeyState(realm.name, key.kid, "active");
      await this.#demoteOthers(realm, key.kid);
      await this.#reload(realm.name);
      return { ...key, state: "active", retireAt: undefined };
    }
    return this.#addKey(realm, await this.#generate(realm.name, options.algorithm ?? realm.signingAlgorithm));
  }

  /**
   * Imports an external private key (a JWK with `alg`): checked, encrypted under the master key and
   * stored as passive (published, not signing) or, with `activate`, as the active key (see
   * {@link rotate}). The caller makes the realm's algorithm the key's when activating.
   */
  async importKey(realm: Realm, jwk: JWK, activate: boolean): Promise<SigningKey> {
    const algorithm = SIGNING_ALGORITHMS.find((a) => a === jwk.alg);
    if (!algorithm) throw new SigningKeyError(`expected alg, one of ${SIGNING_ALGORITHMS.join(" | ")}`);
    if (typeof jwk.d !== "string") throw new SigningKeyError("expected a private key (with d)");
    try {
      await importJWK(jwk, algorithm);
      importJwsKey(jwk as JsonWebKey, algorithm, "private");
    } catch (error) {
      throw new SigningKeyError(`not a usable ${algorithm} key: ${(error as Error).message}`);
    }
    const kid = typeof jwk.kid === "string" && jwk.kid !== "" ? jwk.kid : randomUUID();
    const meta = { kid, alg: algorithm, use: "sig" };
    const publicJwk: Record<string, unknown> = { ...jwk, ...meta };
    for (const member of PRIVATE_MEMBERS) delete publicJwk[member];
    const key: SigningKey = {
      kid,
      algorithm,
      state: activate ? "active" : "passive",
      publicJwk,
      encryptedPrivateJwk: await this.cipher.encryptJwk({ ...jwk, ...meta }, `${realm.name}/${kid}`),
      createdAt: this.clock.now(),
      origin: "imported",
    };
    if (activate) return this.#addKey(realm, key);
    await this.repository.addSigningKey(realm.name, key);
    await this.#reload(realm.name);
    return key;
  }

  /**
   * When a key that stops signing now can leave the JWKS: after the longest a token it signed may
   * live (the realm's access-token lifespan), plus the time other instances may still sign with it
   * from their cache, plus a margin for verifiers' clocks. (Shortening the realm's lifespan and
   * rotating within the old lifespan shortens this too: rotate after the old lifespan has passed.)
   */
  retirementTime(realm: Realm): Date {
    return new Date(this.clock.now().getTime() + realm.accessTokenLifespan * 1000 + this.#cacheTtlMs + RETIREMENT_MARGIN_MS);
  }

  /** The public JWK Set of the realm: active and passive keys. */
  async jwks(realm: string): Promise<JSONWebKeySet> {
    return (await this.#keySet(realm)).jwks;
  }

  /**
   * The public half of the realm's active or passive key `kid`; undefined when the realm has none
   * by that id. An unknown `kid` reloads the set once (if it was read a second ago or more), so
   * keys created by another instance are found.
   */
  async verificationKey(realm: string, kid: string): Promise<JwsKey | undefined> {
    const cached = await this.#keySet(realm);
    const key = cached.verifying.get(kid);
    if (key || this.clock.now().getTime() - cached.loadedAt < 1000) return key;
    this.#cache.delete(realm);
    return (await this.#keySet(realm)).verifying.get(kid);
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
    const now = this.clock.now();
    const published = keys.filter((k) => effectiveKeyState(k, now) !== "retired");
    const jwks = { keys: published.map((k) => k.publicJwk as JWK) };
    return {
      loadedAt: this.clock.now().getTime(),
      jwks,
      verifying: verificationKeys(published),
      active: keys.find((k) => k.state === "active"),
    };
  }

  async #unseal(realm: string, key: SigningKey): Promise<ActiveSigningKey> {
    const jwk = await this.cipher.decryptJwk(key.encryptedPrivateJwk, `${realm}/${key.kid}`);
    return { kid: key.kid, ...importJwsKey(jwk as JsonWebKey, key.algorithm, "private") };
  }

  /** Creates a key with the realm's algorithm; the realm's other active keys turn passive until they retire. */
  async #createKey(realm: Realm): Promise<RealmKeySet> {
    await this.#addKey(realm, await this.#generate(realm.name, realm.signingAlgorithm));
    return this.#keySet(realm.name);
  }

  /** A new active key of `algorithm`, private half encrypted. */
  async #generate(realm: string, algorithm: SigningAlgorithm): Promise<SigningKey> {
    const kid = randomUUID();
    const { publicKey, privateKey } = await generateKeyPair(algorithm, { extractable: true });
    const meta = { kid, alg: algorithm, use: "sig" };
    return {
      kid,
      algorithm,
      state: "active",
      publicJwk: { ...(await exportJWK(publicKey)), ...meta },
      encryptedPrivateJwk: await this.cipher.encryptJwk({ ...(await exportJWK(privateKey)), ...meta }, `${realm}/${kid}`),
      createdAt: this.clock.now(),
      origin: "generated",
    };
  }

  /** Stores an active key, then demotes the others: a verifier never misses the key that signs. */
  async #addKey(realm: Realm, key: SigningKey): Promise<SigningKey> {
    await this.repository.addSigningKey(realm.name, key);
    await this.#demoteOthers(realm, key.kid);
    await this.#reload(realm.name);
    return key;
  }

  async #demoteOthers(realm: Realm, activeKid: string): Promise<void> {
    const retireAt = this.retirementTime(realm);
    for (const other of await this.repository.listSigningKeys(realm.name)) {
      if (other.kid !== activeKid && other.state === "active") {
        await this.repository.updateSigningKeyState(realm.name, other.kid, "passive", retireAt);
      }
    }
  }
}

/**
 * The public halves of `keys` by kid, converted once per load. A stored key that does not fit its
 * algorithm (an RSA key under 2048 bits, imported before that was checked) is left out: its tokens
 * are refused as signed by an unknown key.
 */
function verificationKeys(keys: SigningKey[]): Map<string, JwsKey> {
  const byKid = new Map<string, JwsKey>();
  for (const key of keys) {
    try {
      byKid.set(key.kid, importJwsKey(key.publicJwk as JsonWebKey, key.algorithm, "public"));
    } catch {
      // not a verification key: see above
    }
  }
  return byKid;
}
