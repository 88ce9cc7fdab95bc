import type { ExpiringRecords, RevocationStore } from "../composed-realm-repository.js";
import { GroupCommit } from "../group-commit.js";
import type { TokenLineage } from "../realm-repository.js";
import { deleteExpired, HIDDEN_FIELDS, type MongoStoreContext } from "./collections.js";

/** A lineage record waiting in the group commit, with its realm. */
type ScopedLineage = { realm: string; lineage: TokenLineage };

/** Lineage of exchanged tokens and revoked jtis: what revocation cascades read. */
export class MongoRevocationStore implements RevocationStore, ExpiringRecords {
  /** Concurrent exchanges share the two round trips of {@link recordLineage}: see {@link GroupCommit}. */
  readonly #lineageCommit = new GroupCommit<ScopedLineage, boolean>((items) =>
    this.context.calls.call(() => this.#recordLineages(items)),
  );

  constructor(private readonly context: MongoStoreContext) {}

  recordLineage(realm: string, lineage: TokenLineage): Promise<boolean> {
    return this.#lineageCommit.submit({ realm, lineage });
  }

  /** Inserts the batch's lineage, then reads which of its parents are revoked: inserting first keeps cascades race-free. */
  async #recordLineages(items: ScopedLineage[]): Promise<boolean[]> {
    const { collections } = this.context;
    await collections.lineage.insertMany(
      items.map(({ realm, lineage: { parentJti, childJti, expiresAt } }) => ({ realm, parentJti, childJti, expiresAt })),
      { ordered: false },
    );
    const realms = [...new Set(items.map((item) => item.realm))];
    const parents = [...new Set(items.map((item) => item.lineage.parentJti))];
    const revoked = await collections.revocations
      .find({ realm: { $in: realms }, jti: { $in: parents } }, { projection: { _id: 0, realm: 1, jti: 1 } })
      .toArray();
    const revokedKeys = new Set(revoked.map(({ realm, jti }) => `${realm}\u0000${jti}`));
    return items.map(({ realm, lineage }) => !revokedKeys.has(`${realm}\u0000${lineage.parentJti}`));
  }

  async listChildTokens(realm: string, parentJti: string, now: Date): Promise<TokenLineage[]> {
    const { collections, calls } = this.context;
    return calls.call(() =>
      collections.lineage
        .find<TokenLineage>({ realm, parentJti, expiresAt: { $gt: now } }, { projection: HIDDEN_FIELDS })
        .sort({ _id: 1 })
        .toArray(),
    );
  }

  /**
   * Inserts the revocation, or else moves its `expiresAt` later. Two concurrent revocations of one jti
   * with different expiries may keep the earlier on FerretDB; the jti is revoked either way.
   */
  async revokeToken(realm: string, jti: string, expiresAt: Date): Promise<void> {
    const { collections, calls } = this.context;
    const inserted = await calls.insertFirst(() => collections.revocations.insertOne({ realm, jti, expiresAt }));
    if (inserted) return;
    await calls.call(() => collections.revocations.updateOne({ realm, jti, expiresAt: { $lt: expiresAt } }, { $set: { expiresAt } }));
  }

  /** True from {@link revokeToken} until `purgeExpired` removes the record (whatever the clock says). */
  async isTokenRevoked(realm: string, jti: string): Promise<boolean> {
    const { collections, calls } = this.context;
    const found = await calls.call(() => collections.revocations.findOne({ realm, jti }, { projection: { _id: 1 } }));
    return found !== null;
  }

  /** Counts the revocations and lineage records past their expiry. */
  async purgeExpired(now: Date): Promise<number> {
    const { collections, calls } = this.context;
    return calls.call(() => deleteExpired(now, collections.revocations, collections.lineage));
  }
}
