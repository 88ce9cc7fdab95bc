import type { ExpiringRecords, RevocationStore } from "../composed-realm-repository.js";
import type { TokenLineage } from "../realm-repository.js";
import { copy, dropExpired } from "./copies.js";
import type { MemoryState } from "./memory-state.js";

/** Lineage of exchanged tokens and revoked jtis, in the records of their realm. */
export class MemoryRevocationStore implements RevocationStore, ExpiringRecords {
  constructor(private readonly state: MemoryState) {}

  async recordLineage(realm: string, lineage: TokenLineage): Promise<boolean> {
    const records = this.state.recordsOf(realm);
    const children = records.lineage.get(lineage.parentJti) ?? [];
    children.push(copy(lineage));
    records.lineage.set(lineage.parentJti, children);
    return !records.revocations.has(lineage.parentJti);
  }

  async listChildTokens(realm: string, parentJti: string, now: Date): Promise<TokenLineage[]> {
    const children = this.state.records.get(realm)?.lineage.get(parentJti) ?? [];
    return children.filter((c) => c.expiresAt > now).map(copy);
  }

  async revokeToken(realm: string, jti: string, expiresAt: Date): Promise<void> {
    const revocations = this.state.recordsOf(realm).revocations;
    const known = revocations.get(jti);
    if (!known || known < expiresAt) revocations.set(jti, new Date(expiresAt));
  }

  /** True from {@link revokeToken} until `purgeExpired` removes the record (whatever the clock says). */
  async isTokenRevoked(realm: string, jti: string): Promise<boolean> {
    return this.state.records.get(realm)?.revocations.has(jti) ?? false;
  }

  /** Deletes the revocations and lineage records past their expiry. */
  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const records of this.state.records.values()) {
      purged += dropExpired(records.revocations, (expiresAt) => expiresAt <= now);
      for (const [parent, children] of records.lineage) {
        const kept = children.filter((c) => c.expiresAt > now);
        purged += children.length - kept.length;
        if (kept.length === 0) records.lineage.delete(parent);
        else records.lineage.set(parent, kept);
      }
    }
    return purged;
  }
}
