import type { IdentityProvider } from "../../domain/index.js";
import type { IdentityProviderStore } from "../composed-realm-repository.js";
import { copy, listOf, putUnique, replaceExisting } from "./copies.js";
import { removeLink } from "./link-store.js";
import type { MemoryState } from "./memory-state.js";

/** A realm's identity providers, by alias; deleting one deletes its links. */
export class MemoryIdentityProviderStore implements IdentityProviderStore {
  constructor(private readonly state: MemoryState) {}

  async createIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    putUnique(this.state.required(realm).identityProviders, provider.alias, provider, "identity provider");
  }

  async getIdentityProvider(realm: string, alias: string): Promise<IdentityProvider | undefined> {
    const provider = this.state.data(realm)?.identityProviders.get(alias);
    return provider && copy(provider);
  }

  async listIdentityProviders(realm: string): Promise<IdentityProvider[]> {
    return listOf(this.state.data(realm)?.identityProviders, (p) => p.alias);
  }

  async updateIdentityProvider(realm: string, provider: IdentityProvider): Promise<void> {
    replaceExisting(this.state.required(realm).identityProviders, provider.alias, provider, "identity provider");
  }

  async deleteIdentityProvider(realm: string, alias: string): Promise<boolean> {
    const data = this.state.data(realm);
    if (!data?.identityProviders.delete(alias)) return false;
    for (const link of [...data.links.values()]) if (link.alias === alias) removeLink(data, link);
    return true;
  }
}
