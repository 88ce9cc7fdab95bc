import type { Filter, UpdateFilter } from "mongodb";
import type { IdentityProviderLink } from "../../domain/index.js";
import type { LinkStore } from "../composed-realm-repository.js";
import { StorageNotFoundError } from "../realm-repository.js";
import { HIDDEN_FIELDS, VISIBLE, type MongoStoreContext } from "./collections.js";
import { toLinkDoc, toStoredToken, type LinkDoc } from "./documents.js";

/** Links of users to external identities, unique by (realm, alias, externalUserId) and by (realm, alias, userId). */
export class MongoLinkStore implements LinkStore {
  constructor(private readonly context: MongoStoreContext) {}

  /**
   * Inserts into the unique (realm, alias, externalUserId) and (realm, alias, userId) indexes, so of
   * concurrent calls on any number of instances one wins; then checks that the realm and the provider
   * still exist, taking the link back (and throwing {@link StorageNotFoundError}) if not. Inserting first
   * makes this race-free against `deleteIdentityProvider` and `deleteRealm` without transactions. The user
   * need not exist (yet).
   */
  async createLink(realm: string, link: IdentityProviderLink): Promise<void> {
    const { collections, calls } = this.context;
    const { alias, externalUserId, userId } = link;
    await calls.call(
      () => collections.links.insertOne(toLinkDoc(realm, link)),
      `external user ${externalUserId} of ${alias}, or user ${userId}, is already linked in realm ${realm}`,
    );
    const [realmDoc, provider] = await calls.call(() =>
      Promise.all([
        collections.realms.findOne({ name: realm, ...VISIBLE }, { projection: { _id: 1 } }),
        collections.providers.findOne({ realm, alias }, { projection: { _id: 1 } }),
      ]),
    );
    if (realmDoc && provider) return;
    await calls.call(() => collections.links.deleteOne({ realm, alias, externalUserId, userId }));
    throw new StorageNotFoundError(realmDoc ? `identity provider ${alias} not found in realm ${realm}` : `realm ${realm} not found`);
  }

  async findLink(realm: string, alias: string, externalUserId: string): Promise<IdentityProviderLink | undefined> {
    return this.#findLink({ realm, alias, externalUserId });
  }

  async findLinkOfUser(realm: string, alias: string, userId: string): Promise<IdentityProviderLink | undefined> {
    return this.#findLink({ realm, alias, userId });
  }

  async #findLink(filter: Filter<LinkDoc>): Promise<IdentityProviderLink | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => (await collections.links.findOne<IdentityProviderLink>(filter, { projection: HIDDEN_FIELDS })) ?? undefined);
  }

  async listLinksOfUser(realm: string, userId: string): Promise<IdentityProviderLink[]> {
    const { collections, calls } = this.context;
    return calls.call(() =>
      collections.links.find<IdentityProviderLink>({ realm, userId }, { projection: HIDDEN_FIELDS }).sort({ alias: 1 }).toArray(),
    );
  }

  /**
   * Sets (or unsets) `storedToken`, the only field of a link ever updated: concurrent calls overwriting
   * each other's document on FerretDB lose nothing but the earlier token (last write wins).
   */
  async storeLinkToken(realm: string, alias: string, userId: string, token: IdentityProviderLink["storedToken"]): Promise<void> {
    const { collections, calls } = this.context;
    const update: UpdateFilter<LinkDoc> =
      token === undefined ? { $unset: { storedToken: "" } } : { $set: { storedToken: toStoredToken(token) } };
    const result = await calls.call(() => collections.links.updateOne({ realm, alias, userId }, update));
    if (result.matchedCount === 0) {
      throw new StorageNotFoundError(`user ${userId} has no link to ${alias} in realm ${realm}`);
    }
  }

  async deleteLink(realm: string, alias: string, externalUserId: string): Promise<boolean> {
    const { collections, calls } = this.context;
    return calls.call(async () => (await collections.links.deleteOne({ realm, alias, externalUserId })).deletedCount === 1);
  }
}
