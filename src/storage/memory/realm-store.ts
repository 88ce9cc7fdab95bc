import type { Realm } from "../../domain/index.js";
import type { RealmStore } from "../composed-realm-repository.js";
import { StorageConflictError, type RealmBundle } from "../realm-repository.js";
import { byKey, putUnique } from "./copies.js";
import { emptyRealmData, type MemoryState } from "./memory-state.js";
import { insertUser } from "./user-store.js";

/** Realms, and whole-realm import and delete (each a single synchronous step: all or nothing). */
export class MemoryRealmStore implements RealmStore {
  constructor(private readonly state: MemoryState) {}

  async createRealm(realm: Realm): Promise<void> {
    await this.importRealm({ realm, clients: [], scopes: [], users: [], identityProviders: [] });
  }

  async getRealm(name: string): Promise<Realm | undefined> {
    const data = this.state.data(name);
    return data && structuredClone(data.realm);
  }

  async listRealms(): Promise<Realm[]> {
    return [...this.state.realms.values()].map((d) => structuredClone(d.realm)).sort(byKey((r) => r.name));
  }

  async updateRealm(realm: Realm): Promise<void> {
    this.state.required(realm.name).realm = structuredClone(realm);
  }

  async deleteRealm(name: string): Promise<boolean> {
    if (!this.state.realms.delete(name)) return false;
    this.state.records.delete(name);
    return true;
  }

  async importRealm(bundle: RealmBundle): Promise<void> {
    if (this.state.realms.has(bundle.realm.name)) {
      throw new StorageConflictError(`realm ${bundle.realm.name} already exists`);
    }
    const data = emptyRealmData(structuredClone(bundle.realm));
    for (const client of bundle.clients) putUnique(data.clients, client.clientId, client, "client");
    for (const scope of bundle.scopes) putUnique(data.scopes, scope.name, scope, "scope");
    for (const user of bundle.users) insertUser(data, user);
    for (const provider of bundle.identityProviders) {
      putUnique(data.identityProviders, provider.alias, provider, "identity provider");
    }
    this.state.realms.set(bundle.realm.name, data);
    this.state.records.delete(bundle.realm.name);
  }
}
