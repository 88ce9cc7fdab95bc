import type { ExpiringRecords, OneTimeClaimStore } from "../composed-realm-repository.js";
import { dropExpired } from "./copies.js";
import type { MemoryState } from "./memory-state.js";

/** Used client-assertion jtis (in their realm's data) and claimed admin revisions, each until it expires. */
export class MemoryOneTimeClaimStore implements OneTimeClaimStore, ExpiringRecords {
  /** Claimed revisions: JSON [realm, kind, key, revision] -> when the claim may go. */
  readonly #revisionClaims = new Map<string, number>();

  constructor(private readonly state: MemoryState) {}

  async consumeJti(realm: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const used = this.state.required(realm).usedJtis;
    const now = Date.now();
    for (const [key, expiry] of used) if (expiry <= now) used.delete(key);
    const key = JSON.stringify([clientId, jti]);
    if (used.has(key)) return false;
    used.set(key, expiresAt.getTime());
    return true;
  }

  async claimRevision(realm: string, kind: string, key: string, revision: string, expiresAt: Date): Promise<boolean> {
    const now = Date.now();
    for (const [claim, expiry] of this.#revisionClaims) if (expiry <= now) this.#revisionClaims.delete(claim);
    const claim = JSON.stringify([realm, kind, key, revision]);
    if (this.#revisionClaims.has(claim)) return false;
    this.#revisionClaims.set(claim, expiresAt.getTime());
    return true;
  }

  /** Deletes the used jtis past their expiry (expired revision claims go on the next claim). */
  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const data of this.state.realms.values()) purged += dropExpired(data.usedJtis, (expiry) => expiry <= now.getTime());
    return purged;
  }
}
