import type { SigningAlgorithm } from "./realm.js";

/** `active` keys sign; `passive` keys only verify; `retired` keys are gone from the JWKS. */
export type SigningKeyState = "active" | "passive" | "retired";

/** A realm signing key. The private half is stored only encrypted. */
export interface SigningKey {
  kid: string;
  algorithm: SigningAlgorithm;
  state: SigningKeyState;
  /** Public JWK, with `kid`, `alg` and `use`. */
  publicJwk: Record<string, unknown>;
  /** The private JWK encrypted under the master key (a compact JWE). */
  encryptedPrivateJwk: string;
  createdAt: Date;
}
