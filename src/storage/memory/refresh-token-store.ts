import type { RefreshTokenRecord } from "../../domain/index.js";
import type { ExpiringRecords, RefreshTokenStore } from "../composed-realm-repository.js";
import { StorageConflictError } from "../realm-repository.js";
import { copy, dropExpired } from "./copies.js";
import type { MemoryState } from "./memory-state.js";

/** Refresh tokens by hash, with unique jtis, in the records of their realm. */
export class MemoryRefreshTokenStore implements RefreshTokenStore, ExpiringRecords {
  constructor(private readonly state: MemoryState) {}

  async storeRefreshToken(realm: string, record: RefreshTokenRecord): Promise<void> {
    const records = this.state.recordsOf(realm);
    if (records.refreshTokens.has(record.tokenHash) || records.refreshTokenJtis.has(record.jti)) {
      throw new StorageConflictError(`refresh token ${record.jti} (or its hash) already exists in realm ${realm}`);
    }
    records.refreshTokens.set(record.tokenHash, copy(record));
    records.refreshTokenJtis.add(record.jti);
  }

  async findRefreshToken(realm: string, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const record = this.state.records.get(realm)?.refreshTokens.get(tokenHash);
    return record && copy(record);
  }

  async markRefreshTokenUsed(realm: string, tokenHash: string, at: Date): Promise<boolean> {
    const record = this.state.records.get(realm)?.refreshTokens.get(tokenHash);
    if (!record || record.usedAt !== undefined) return false;
    record.usedAt = new Date(at);
    return true;
  }

  /** Deletes the refresh tokens past their expiry (and frees their jtis). */
  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const records of this.state.records.values()) {
      purged += dropExpired(
        records.refreshTokens,
        (r) => r.expiresAt <= now,
        (r) => records.refreshTokenJtis.delete(r.jti),
      );
    }
    return purged;
  }
}
