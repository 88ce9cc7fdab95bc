import type { SigningKey } from "../../domain/index.js";
import type { SigningKeyStore } from "../composed-realm-repository.js";
import { StorageConflictError } from "../realm-repository.js";
import type { MemoryState } from "./memory-state.js";

/** A realm's signing keys, unique by kid, listed newest first. */
export class MemorySigningKeyStore implements SigningKeyStore {
  constructor(private readonly state: MemoryState) {}

  async addSigningKey(realm: string, key: SigningKey): Promise<void> {
    const data = this.state.required(realm);
    if (data.keys.some((k) => k.kid === key.kid)) throw new StorageConflictError(`signing key ${key.kid} exists`);
    data.keys.unshift(structuredClone(key));
  }

  async listSigningKeys(realm: string): Promise<SigningKey[]> {
    // Newest first by createdAt (keys may be added out of order, e.g. on restore); ties: last added first.
    const keys = structuredClone(this.state.data(realm)?.keys ?? []);
    return keys.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  async updateSigningKeyState(realm: string, kid: string, state: SigningKey["state"], retireAt?: Date): Promise<boolean> {
    const key = this.state.data(realm)?.keys.find((k) => k.kid === kid);
    if (!key) return false;
    key.state = state;
    if (retireAt === undefined) delete key.retireAt;
    else key.retireAt = new Date(retireAt);
    return true;
  }
}
