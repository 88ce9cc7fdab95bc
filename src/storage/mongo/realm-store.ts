import type { Realm } from "../../domain/index.js";
import type { RealmStore } from "../composed-realm-repository.js";
import { StorageConflictError, StorageNotFoundError, type RealmBundle } from "../realm-repository.js";
import { VISIBLE, type MongoStoreContext } from "./collections.js";
import { toProviderDoc, toUserDoc } from "./documents.js";

/** The realm documents without the fields readers never see. */
const REALM_FIELDS = { _id: 0, _state: 0 } as const;

/** Throws {@link StorageNotFoundError} unless the realm exists and is visible (not being imported or deleted). */
export async function requireRealm({ collections, calls }: MongoStoreContext, name: string): Promise<void> {
  const found = await calls.call(() => collections.realms.findOne({ name, ...VISIBLE }, { projection: { _id: 1 } }));
  if (!found) throw new StorageNotFoundError(`realm ${name} not found`);
}

/**
 * Realms, and the two operations that span every collection: whole-realm import and delete. Both stand
 * in for transactions (FerretDB has none) by hiding the realm document while they run.
 */
export class MongoRealmStore implements RealmStore {
  constructor(private readonly context: MongoStoreContext) {}

  async createRealm(realm: Realm): Promise<void> {
    await this.importRealm({ realm, clients: [], scopes: [], users: [], identityProviders: [] });
  }

  async getRealm(name: string): Promise<Realm | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const doc = await collections.realms.findOne<Realm>({ name, ...VISIBLE }, { projection: REALM_FIELDS });
      return doc ?? undefined;
    });
  }

  async listRealms(): Promise<Realm[]> {
    const { collections, calls } = this.context;
    return calls.call(() => collections.realms.find<Realm>(VISIBLE, { projection: REALM_FIELDS }).sort({ name: 1 }).toArray());
  }

  async updateRealm(realm: Realm): Promise<void> {
    const { collections, calls } = this.context;
    const result = await calls.call(() => collections.realms.replaceOne({ name: realm.name, ...VISIBLE }, { ...realm }));
    if (result.matchedCount === 0) throw new StorageNotFoundError(`realm ${realm.name} not found`);
  }

  /**
   * Hides the realm, deletes its objects, then the realm document itself. If that is interrupted the
   * realm stays hidden and its name taken until `deleteRealm` runs again.
   */
  async deleteRealm(name: string): Promise<boolean> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const hidden = await collections.realms.updateOne({ name }, { $set: { _state: "deleting" } });
      if (hidden.matchedCount === 0) return false;
      await this.#deleteObjectsOf(name);
      await collections.realms.deleteOne({ name });
      return true;
    });
  }

  /**
   * All or nothing without transactions: the realm document is inserted hidden (which also claims the
   * name), leftovers of an interrupted delete of the same name are removed, the objects are inserted,
   * and only then is the realm made visible. On any failure everything of the realm is deleted again.
   * Objects of a hidden realm are reachable only by callers that skip {@link getRealm}.
   */
  async importRealm(bundle: RealmBundle): Promise<void> {
    const { collections, calls } = this.context;
    const name = bundle.realm.name;
    await calls.call(() => collections.realms.insertOne({ ...bundle.realm, _state: "importing" }), `realm ${name} already exists`);
    try {
      await this.#deleteObjectsOf(name);
      const scoped = <T>(items: T[]) => items.map((item) => ({ ...item, realm: name }));
      const conflict = (what: string) => `the bundle of realm ${name} holds a duplicate ${what}`;
      if (bundle.clients.length > 0) {
        await calls.call(() => collections.clients.insertMany(scoped(bundle.clients)), conflict("client id"));
      }
      if (bundle.scopes.length > 0) {
        await calls.call(() => collections.scopes.insertMany(scoped(bundle.scopes)), conflict("scope name"));
      }
      if (bundle.users.length > 0) {
        const users = bundle.users.map((user) => toUserDoc(name, user));
        await calls.call(() => collections.users.insertMany(users), conflict("user id or username"));
      }
      if (bundle.identityProviders.length > 0) {
        const providers = bundle.identityProviders.map((provider) => toProviderDoc(name, provider));
        await calls.call(() => collections.providers.insertMany(providers), conflict("identity provider alias"));
      }
      const shown = await calls.call(() => collections.realms.updateOne({ name, _state: "importing" }, { $unset: { _state: "" } }));
      if (shown.matchedCount === 0) throw new StorageConflictError(`realm ${name} was deleted during its import`);
    } catch (error) {
      await this.#deleteObjectsOf(name)
        .then(() => collections.realms.deleteOne({ name, _state: "importing" }))
        .catch(() => {}); // the realm stays hidden; deleteRealm clears it
      throw calls.translate(error);
    }
  }

  async #deleteObjectsOf(realm: string): Promise<void> {
    await Promise.all(this.context.collections.realmScoped.map((collection) => collection.deleteMany({ realm })));
  }
}
