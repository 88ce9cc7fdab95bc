import type { ExpiringRecords, OneTimeClaimStore } from "../composed-realm-repository.js";
import { deleteExpired, type MongoStoreContext } from "./collections.js";

/** How often one instance sweeps expired used jtis, at most. */
const JTI_SWEEP_INTERVAL_MS = 60_000;

/**
 * Used client-assertion jtis and claimed admin revisions: "first one wins" records, each an insert into
 * a unique index, that expire.
 */
export class MongoOneTimeClaimStore implements OneTimeClaimStore, ExpiringRecords {
  #nextJtiSweep = 0;
  #jtiSweep: Promise<void> = Promise.resolve();

  constructor(private readonly context: MongoStoreContext) {}

  /**
   * Deletes the record if it has expired, then inserts a new one: the insert is atomic on the unique
   * (realm, clientId, jti) index, so of concurrent calls exactly one gets it in (true) and the others fail
   * with a duplicate key (false). (An upsert filtered on the expiry would revive an expired record for
   * every concurrent caller on FerretDB, whose filtered updates are not atomic.) Expired records are also
   * swept, at most once a minute per instance, without relying on a TTL monitor.
   */
  async consumeJti(realm: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const { collections, calls } = this.context;
    const now = new Date();
    this.#sweepExpiredJtis(now);
    await calls.call(() => collections.usedJtis.deleteOne({ realm, clientId, jti, expiresAt: { $lte: now } }));
    return calls.insertFirst(() => collections.usedJtis.insertOne({ realm, clientId, jti, expiresAt }));
  }

  /**
   * Deletes an expired claim of the same revision, then inserts into the unique (realm, kind, key,
   * revision) index: of concurrent callers exactly one gets its insert in (as {@link consumeJti}).
   */
  async claimRevision(realm: string, kind: string, key: string, revision: string, expiresAt: Date): Promise<boolean> {
    const { collections, calls } = this.context;
    await calls.call(() => collections.revisionClaims.deleteOne({ realm, kind, key, revision, expiresAt: { $lte: new Date() } }));
    return calls.insertFirst(() => collections.revisionClaims.insertOne({ realm, kind, key, revision, expiresAt }));
  }

  /** Counts the used jtis and revision claims past their expiry. */
  async purgeExpired(now: Date): Promise<number> {
    const { collections, calls } = this.context;
    return calls.call(() => deleteExpired(now, collections.usedJtis, collections.revisionClaims));
  }

  /** Waits for a sweep under way (before the connection closes). */
  async settle(): Promise<void> {
    await this.#jtiSweep;
  }

  #sweepExpiredJtis(now: Date): void {
    if (now.getTime() < this.#nextJtiSweep) return;
    this.#nextJtiSweep = now.getTime() + JTI_SWEEP_INTERVAL_MS;
    this.#jtiSweep = this.context.collections.usedJtis.deleteMany({ expiresAt: { $lt: now } }).then(
      () => {},
      () => {}, // best effort: consumeJti never trusts an expired record anyway
    );
  }
}
