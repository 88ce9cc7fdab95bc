import { randomUUID } from "node:crypto";
import type { JWTPayload } from "jose";
import type { IdentityProvider, User } from "../domain/index.js";
import { StorageConflictError, type RealmRepository } from "../storage/realm-repository.js";

/** Why an external identity cannot become a realm user, in words safe to show a client. */
export class ExternalUserError extends Error {
  override readonly name = "ExternalUserError";
}

/** How long a request that lost a first-login race waits for the winner's user, milliseconds. */
const RACE_WAIT_MS = 2000;

/** The string value of a claim (numbers too), or undefined. */
function claimString(claims: JWTPayload, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" && value !== "" ? value : typeof value === "number" ? String(value) : undefined;
}

/** The user attributes a provider copies from the claims. */
function attributesOf(provider: IdentityProvider, claims: JWTPayload): Record<string, string[]> {
  const attributes: Record<string, string[]> = {};
  for (const [attribute, claim] of Object.entries(provider.claims.attributes)) {
    const value = claims[claim];
    const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
    const strings = values.filter((v) => ["string", "number", "boolean"].includes(typeof v)).map(String);
    if (strings.length > 0) attributes[attribute] = strings;
  }
  return attributes;
}

/**
 * Maps a verified external token to a realm user under the provider's user policy:
 * `link-existing` only follows existing links (Keycloak's rule); `create` makes the user and the
 * link on first sight, refusing when the username is taken by an unlinked user; `create-if-absent`
 * links a user of that username, or creates one. The link is inserted first, under unique indexes,
 * so two concurrent first logins of one external user make one link and one user.
 */
export class ExternalUserResolver {
  constructor(private readonly repository: RealmRepository) {}

  /** The realm user of the external identity; attributes are refreshed from the claims. */
  async resolve(realm: string, provider: IdentityProvider, claims: JWTPayload): Promise<{ user: User; externalUserId: string }> {
    const externalUserId = claimString(claims, provider.claims.userId);
    if (!externalUserId) throw new ExternalUserError(`the token lacks the user id claim ${provider.claims.userId}`);
    const link = await this.repository.findLink(realm, provider.alias, externalUserId);
    const user = link ? await this.#userOf(realm, link.userId) : await this.#firstLogin(realm, provider, claims, externalUserId);
    if (!user.enabled) throw new ExternalUserError("the linked user is disabled");
    return { user: await this.#refreshAttributes(realm, provider, claims, user), externalUserId };
  }

  async #firstLogin(realm: string, provider: IdentityProvider, claims: JWTPayload, externalUserId: string): Promise<User> {
    if (provider.userPolicy === "link-existing") throw new ExternalUserError("no realm user is linked to this external identity");
    const username = claimString(claims, provider.claims.username) ?? `${provider.alias}.${externalUserId}`;
    const existing = await this.repository.findUserByUsername(realm, username);
    if (existing && provider.userPolicy === "create") {
      // The user may be a concurrent first login's: then its link exists by now.
      const raced = await this.repository.findLink(realm, provider.alias, externalUserId);
      if (raced) return this.#userOf(realm, raced.userId);
      throw new ExternalUserError("a user with this username exists and is not linked");
    }
    const userId = existing?.id ?? randomUUID();
    try {
      await this.repository.createLink(realm, { alias: provider.alias, externalUserId, userId, createdAt: new Date() });
    } catch (error) {
      if (!(error instanceof StorageConflictError)) throw error;
      // Another request linked this external identity (or this user) first: use its link.
      const winner = await this.repository.findLink(realm, provider.alias, externalUserId);
      if (!winner) throw new ExternalUserError("the user is already linked to another external identity");
      return this.#userOf(realm, winner.userId);
    }
    if (existing) return existing;
    const email = claimString(claims, provider.claims.email);
    const user: User = { id: userId, username, ...(email && { email }), enabled: true, attributes: attributesOf(provider, claims) };
    try {
      await this.repository.createUser(realm, user);
    } catch (error) {
      await this.repository.deleteLink(realm, provider.alias, externalUserId);
      if (error instanceof StorageConflictError) throw new ExternalUserError("a user with this username exists and is not linked");
      throw error;
    }
    return user;
  }

  /** The user of a link; a link whose user is being created by a concurrent first login is waited for. */
  async #userOf(realm: string, userId: string): Promise<User> {
    const deadline = Date.now() + RACE_WAIT_MS;
    for (;;) {
      const user = await this.repository.getUser(realm, userId);
      if (user) return user;
      if (Date.now() > deadline) throw new ExternalUserError("the linked user does not exist");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async #refreshAttributes(realm: string, provider: IdentityProvider, claims: JWTPayload, user: User): Promise<User> {
    const copied = attributesOf(provider, claims);
    const changed = Object.entries(copied).some(([name, values]) => JSON.stringify(user.attributes[name]) !== JSON.stringify(values));
    if (!changed) return user;
    const updated = { ...user, attributes: { ...user.attributes, ...copied } };
    await this.repository.updateUser(realm, updated);
    return updated;
  }
}
