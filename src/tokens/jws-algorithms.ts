import { constants, createPrivateKey, createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from "node:crypto";
import type { SigningAlgorithm } from "../domain/index.js";

/**
 * A realm key of one JWS algorithm as node:crypto's one-shot `sign`/`verify` take it: synchronous,
 * no WebCrypto job on the thread pool.
 */
export interface JwsKey {
  algorithm: SigningAlgorithm;
  /** The private half (to sign) or the public half (to verify). */
  key: KeyObject;
  /** The length of every signature the key makes, bytes. */
  signatureLength: number;
}

/** How node:crypto computes one JWS algorithm. */
interface AlgorithmParameters {
  /** Hash of the signature; `null` for EdDSA, which hashes by itself. */
  digest: "sha256" | null;
  /** Padding, salt length, signature encoding: what `sign`/`verify` take beside the key. */
  options: { dsaEncoding?: "ieee-p1363"; padding?: number; saltLength?: number };
  /** The signature length of `key`; throws when `key` does not fit the algorithm. */
  signatureLength(key: KeyObject): number;
}

/** RFC 7518 §3.4: a P-256 key; R and S of 32 bytes each. */
function p256SignatureLength(key: KeyObject): number {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error("expected an EC key on P-256");
  return 64;
}

/** RFC 7518 §3.3, §3.5: an RSA key of 2048 bits or more; RFC 8017 §8.1.2, §8.2.2 step 1: the signature as long as the modulus. */
function rsaSignatureLength(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== "rsa" || bits < 2048) throw new Error("expected an RSA key of 2048 bits or more");
  return Math.ceil(bits / 8);
}

/** RFC 8037 §3.1: an Ed25519 key; RFC 8032 §5.1.6: signatures of 64 bytes. */
function ed25519SignatureLength(key: KeyObject): number {
  if (key.asymmetricKeyType !== "ed25519") throw new Error("expected an Ed25519 key");
  return 64;
}

const ALGORITHMS: Record<SigningAlgorithm, AlgorithmParameters> = {
  // RFC 7518 §3.4: ECDSA P-256 SHA-256, the signature R || S (not DER)
  ES256: { digest: "sha256", options: { dsaEncoding: "ieee-p1363" }, signatureLength: p256SignatureLength },
  // RFC 7518 §3.3: RSASSA-PKCS1-v1_5 SHA-256 (node's default padding for RSA keys)
  RS256: { digest: "sha256", options: {}, signatureLength: rsaSignatureLength },
  // RFC 7518 §3.5: RSASSA-PSS SHA-256, MGF1 with SHA-256 (node's default: the digest), salt as long as the hash
  PS256: { digest: "sha256", options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signatureLength: rsaSignatureLength },
  // RFC 8037 §3.1: EdDSA with Ed25519
  EdDSA: { digest: null, options: {}, signatureLength: ed25519SignatureLength },
};

/**
 * The private or public half of a JWK as a {@link JwsKey} of `algorithm`. Throws when the JWK is
 * no key or does not fit the algorithm (wrong type or curve, RSA under 2048 bits).
 */
export function importJwsKey(jwk: JsonWebKey, algorithm: SigningAlgorithm, half: "private" | "public"): JwsKey {
  const key = half === "private" ? createPrivateKey({ key: jwk, format: "jwk" }) : createPublicKey({ key: jwk, format: "jwk" });
  return { algorithm, key, signatureLength: ALGORITHMS[algorithm].signatureLength(key) };
}

/** The JWS Signature of `input` (RFC 7515 §5.1 step 5). */
export function signJws(key: JwsKey, input: Buffer): Buffer {
  const { digest, options } = ALGORITHMS[key.algorithm];
  return sign(digest, input, { key: key.key, ...options });
}

/** Whether `signature` is `key`'s signature of `input` (RFC 7515 §5.2 step 8); one of another length never is. */
export function verifyJws(key: JwsKey, input: Buffer, signature: Buffer): boolean {
  if (signature.length !== key.signatureLength) return false;
  const { digest, options } = ALGORITHMS[key.algorithm];
  return verify(digest, input, { key: key.key, ...options }, signature);
}
