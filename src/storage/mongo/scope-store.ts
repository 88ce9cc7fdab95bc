import type { Scope } from "../../domain/index.js";
import type { ScopeStore } from "../composed-realm-repository.js";
import { StorageNotFoundError } from "../realm-repository.js";
import { HIDDEN_FIELDS, type MongoStoreContext } from "./collections.js";
import { requireRealm } from "./realm-store.js";

/** A realm's scopes, unique by (realm, name). */
export class MongoScopeStore implements ScopeStore {
  constructor(private readonly context: MongoStoreContext) {}

  async createScope(realm: string, scope: Scope): Promise<void> {
    const { collections, calls } = this.context;
    await requireRealm(this.context, realm);
    await calls.call(() => collections.scopes.insertOne({ ...scope, realm }), `scope ${scope.name} already exists in realm ${realm}`);
  }

  async getScope(realm: string, name: string): Promise<Scope | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => (await collections.scopes.findOne<Scope>({ realm, name }, { projection: HIDDEN_FIELDS })) ?? undefined);
  }

  async listScopes(realm: string): Promise<Scope[]> {
    const { collections, calls } = this.context;
    return calls.call(() => collections.scopes.find<Scope>({ realm }, { projection: HIDDEN_FIELDS }).sort({ name: 1 }).toArray());
  }

  async updateScope(realm: string, scope: Scope): Promise<void> {
    const { collections, calls } = this.context;
    const result = await calls.call(() => collections.scopes.replaceOne({ realm, name: scope.name }, { ...scope, realm }));
    if (result.matchedCount === 0) throw new StorageNotFoundError(`scope ${scope.name} not found in realm ${realm}`);
  }

  async deleteScope(realm: string, name: string): Promise<boolean> {
    const { collections, calls } = this.context;
    return calls.call(async () => (await collections.scopes.deleteOne({ realm, name })).deletedCount === 1);
  }
}
