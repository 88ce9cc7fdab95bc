import type { IdentityProvider } from "../../domain/index.js";
import type { IdentityProviderStore } from "../composed-realm-repository.js";
import { StorageNotFoundError } from "../realm-repository.js";
import { HIDDEN_FIELDS, type MongoStoreContext } from "./collections.js";
import { fromProviderDoc, toProviderDoc, type IdentityProviderDoc } from "./documents.js";
import { requireRealm } from "./realm-store.js";

/** A realm's identity providers, unique by (realm, alias); deleting one deletes its links. */
export class MongoIdentityProviderStore implements IdentityProviderStore {
  constructor(private readonly context: MongoStoreContext) {}

  async createIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    const { collections, calls } = this.context;
    await requireRealm(this.context, realm);
    await calls.call(
      () => collections.providers.insertOne(toProviderDoc(realm, provider)),
      `identity provider ${provider.alias} already exists in realm ${realm}`,
    );
  }

  async getIdentityProvider(realm: string, alias: string): Promise<IdentityProvider | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const doc = await collections.providers.findOne<IdentityProviderDoc>({ realm, alias }, { projection: HIDDEN_FIELDS });
      return doc ? fromProviderDoc(doc) : undefined;
    });
  }

  async listIdentityProviders(realm: string): Promise<IdentityProvider[]> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const docs = await collections.providers
        .find<IdentityProviderDoc>({ realm }, { projection: HIDDEN_FIELDS })
        .sort({ alias: 1 })
        .toArray();
      return docs.map(fromProviderDoc);
    });
  }

  async updateIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    const { collections, calls } = this.context;
    const result = await calls.call(() => collections.providers.replaceOne({ realm, alias: provider.alias }, toProviderDoc(realm, provider)));
    if (result.matchedCount === 0) {
      throw new StorageNotFoundError(`identity provider ${provider.alias} not found in realm ${realm}`);
    }
  }

  /**
   * Deletes the provider first, then its links: a `createLink` racing this either sees the provider gone
   * (and takes its link back) or inserted its link before the links are deleted.
   */
  async deleteIdentityProvider(realm: string, alias: string): Promise<boolean> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const deleted = await collections.providers.deleteOne({ realm, alias });
      await collections.links.deleteMany({ realm, alias });
      return deleted.deletedCount === 1;
    });
  }
}
