import type { IdentityProviderLink } from "../../domain/index.js";
import type { LinkStore } from "../composed-realm-repository.js";
import { StorageConflictError, StorageNotFoundError } from "../realm-repository.js";
import { copy, listOf } from "./copies.js";
import type { MemoryState, RealmData } from "./memory-state.js";

/** The key of a link in {@link RealmData.links}. */
const linkKey = (alias: string, externalUserId: string): string => JSON.stringify([alias, externalUserId]);

/** Removes a link from both indexes of the realm's links. */
export function removeLink(data: RealmData, link: IdentityProviderLink): void {
  data.links.delete(linkKey(link.alias, link.externalUserId));
  const ofUser = data.linksOfUsers.get(link.userId);
  ofUser?.delete(link.alias);
  if (ofUser?.size === 0) data.linksOfUsers.delete(link.userId);
}

/** Links of users to external identities: one per (alias, externalUserId) and per (alias, userId). */
export class MemoryLinkStore implements LinkStore {
  constructor(private readonly state: MemoryState) {}

  /**
   * Throws {@link StorageConflictError} when the external user or the user already has a link to the
   * provider, {@link StorageNotFoundError} when the realm or the provider is unknown. The user need not
   * exist (yet).
   */
  async createLink(realm: string, link: IdentityProviderLink): Promise<void> {
    const data = this.state.required(realm);
    if (!data.identityProviders.has(link.alias)) {
      throw new StorageNotFoundError(`identity provider ${link.alias} not found in realm ${realm}`);
    }
    const key = linkKey(link.alias, link.externalUserId);
    if (data.links.has(key)) {
      throw new StorageConflictError(`external user ${link.externalUserId} of ${link.alias} is already linked`);
    }
    const ofUser = data.linksOfUsers.get(link.userId) ?? new Map<string, IdentityProviderLink>();
    if (ofUser.has(link.alias)) {
      throw new StorageConflictError(`user ${link.userId} already has a link to ${link.alias}`);
    }
    const stored = copy(link);
    data.links.set(key, stored);
    data.linksOfUsers.set(link.userId, ofUser.set(link.alias, stored));
  }

  async findLink(realm: string, alias: string, externalUserId: string): Promise<IdentityProviderLink | undefined> {
    const link = this.state.data(realm)?.links.get(linkKey(alias, externalUserId));
    return link && copy(link);
  }

  async findLinkOfUser(realm: string, alias: string, userId: string): Promise<IdentityProviderLink | undefined> {
    const link = this.state.data(realm)?.linksOfUsers.get(userId)?.get(alias);
    return link && copy(link);
  }

  async listLinksOfUser(realm: string, userId: string): Promise<IdentityProviderLink[]> {
    return listOf(this.state.data(realm)?.linksOfUsers.get(userId), (l) => l.alias);
  }

  async storeLinkToken(realm: string, alias: string, userId: string, token: IdentityProviderLink["storedToken"]): Promise<void> {
    const link = this.state.data(realm)?.linksOfUsers.get(userId)?.get(alias);
    if (!link) throw new StorageNotFoundError(`user ${userId} has no link to ${alias} in realm ${realm}`);
    if (token === undefined) delete link.storedToken;
    else link.storedToken = copy(token);
  }

  async deleteLink(realm: string, alias: string, externalUserId: string): Promise<boolean> {
    const data = this.state.data(realm);
    const link = data?.links.get(linkKey(alias, externalUserId));
    if (!data || !link) return false;
    removeLink(data, link);
    return true;
  }
}
