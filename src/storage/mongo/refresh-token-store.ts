import type { RefreshTokenRecord } from "../../domain/index.js";
import type { ExpiringRecords, RefreshTokenStore } from "../composed-realm-repository.js";
import { deleteExpired, HIDDEN_FIELDS, type MongoStoreContext } from "./collections.js";
import { fromRefreshTokenDoc, toRefreshTokenDoc, type RefreshTokenDoc } from "./documents.js";

/**
 * Refresh tokens: a `refresh_tokens` document each (never updated), and a `refresh_token_uses` document
 * once it was used, unique per token so that the first use wins. Readers merge the two.
 */
export class MongoRefreshTokenStore implements RefreshTokenStore, ExpiringRecords {
  constructor(private readonly context: MongoStoreContext) {}

  /** Throws {@link StorageConflictError} on a duplicate hash or jti. Does not check that the realm exists. */
  async storeRefreshToken(realm: string, record: RefreshTokenRecord): Promise<void> {
    const { collections, calls } = this.context;
    const { usedAt, ...token } = record;
    await calls.call(
      () => collections.refreshTokens.insertOne(toRefreshTokenDoc(realm, token)),
      `refresh token ${record.jti} (or its hash) already exists in realm ${realm}`,
    );
    if (usedAt) {
      const use = { realm, tokenHash: record.tokenHash, usedAt, expiresAt: record.expiresAt };
      await calls.call(() => collections.refreshTokenUses.insertOne(use));
    }
  }

  async findRefreshToken(realm: string, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const [doc, use] = await Promise.all([
        collections.refreshTokens.findOne<Omit<RefreshTokenDoc, "realm">>({ realm, tokenHash }, { projection: HIDDEN_FIELDS }),
        collections.refreshTokenUses.findOne({ realm, tokenHash }),
      ]);
      return doc ? fromRefreshTokenDoc(doc, use ?? undefined) : undefined;
    });
  }

  /**
   * The first use wins by inserting into the unique (realm, tokenHash) index of `refresh_token_uses`: a
   * filtered update is not atomic on FerretDB (see `documents.ts`).
   */
  async markRefreshTokenUsed(realm: string, tokenHash: string, at: Date): Promise<boolean> {
    const { collections, calls } = this.context;
    const token = await calls.call(() =>
      collections.refreshTokens.findOne({ realm, tokenHash }, { projection: { _id: 0, expiresAt: 1 } }),
    );
    if (!token) return false;
    return calls.insertFirst(() => collections.refreshTokenUses.insertOne({ realm, tokenHash, usedAt: at, expiresAt: token.expiresAt }));
  }

  /** Counts the refresh tokens past their expiry; their uses go too, uncounted. */
  async purgeExpired(now: Date): Promise<number> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const purged = await deleteExpired(now, collections.refreshTokens);
      await deleteExpired(now, collections.refreshTokenUses);
      return purged;
    });
  }
}
