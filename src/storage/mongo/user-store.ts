import type { Filter } from "mongodb";
import type { User } from "../../domain/index.js";
import type { UserStore } from "../composed-realm-repository.js";
import { decodeKeyPageToken, encodeKeyPageToken, pageSizeOf, userPageShape } from "../paging.js";
import { StorageNotFoundError, type Page, type UserQuery } from "../realm-repository.js";
import { HIDDEN_FIELDS, type MongoStoreContext } from "./collections.js";
import { fromUserDoc, toUserDoc, type UserDoc } from "./documents.js";
import { requireRealm } from "./realm-store.js";

/** A realm's users, unique by (realm, id) and by (realm, username). */
export class MongoUserStore implements UserStore {
  constructor(private readonly context: MongoStoreContext) {}

  async createUser(realm: string, user: User): Promise<void> {
    const { collections, calls } = this.context;
    await requireRealm(this.context, realm);
    await calls.call(
      () => collections.users.insertOne(toUserDoc(realm, user)),
      `user ${user.id} or username ${user.username} already exists in realm ${realm}`,
    );
  }

  async getUser(realm: string, id: string): Promise<User | undefined> {
    return this.#findUser({ realm, id });
  }

  async findUserByUsername(realm: string, username: string): Promise<User | undefined> {
    return this.#findUser({ realm, username });
  }

  async #findUser(filter: { realm: string; id?: string; username?: string }): Promise<User | undefined> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const doc = await collections.users.findOne<Omit<UserDoc, "realm">>(filter, { projection: HIDDEN_FIELDS });
      return doc ? fromUserDoc(doc) : undefined;
    });
  }

  /** Throws {@link StorageConflictError} when the new username is another user's (the unique index says so). */
  async updateUser(realm: string, user: User): Promise<void> {
    const { collections, calls } = this.context;
    const result = await calls.call(
      () => collections.users.replaceOne({ realm, id: user.id }, toUserDoc(realm, user)),
      `username ${user.username} is taken in realm ${realm}`,
    );
    if (result.matchedCount === 0) throw new StorageNotFoundError(`user ${user.id} not found in realm ${realm}`);
  }

  /**
   * Sorted by the unique (realm, username) index; the prefix is a range on it (no regular
   * expression), the page token's username a strict lower bound.
   */
  async listUsers(realm: string, query: UserQuery): Promise<Page<User>> {
    const { collections, calls } = this.context;
    const { usernamePrefix, email, enabled } = query;
    const shape = userPageShape(realm, query);
    const after = decodeKeyPageToken(shape, query.pageToken);
    const size = pageSizeOf(query);
    const range: Record<string, string> = {};
    if (usernamePrefix) Object.assign(range, { $gte: usernamePrefix, $lt: `${usernamePrefix}\u{10FFFF}` });
    if (after !== undefined) range.$gt = after;
    const filter: Filter<UserDoc> = { realm };
    if (Object.keys(range).length > 0) filter.username = range;
    if (email !== undefined) filter.email = email;
    if (enabled !== undefined) filter.enabled = enabled;
    const docs = await calls.call(() =>
      collections.users.find<Omit<UserDoc, "realm">>(filter, { projection: HIDDEN_FIELDS }).sort({ username: 1 }).limit(size + 1).toArray(),
    );
    const users = docs.map(fromUserDoc);
    if (users.length <= size) return { items: users };
    const page = users.slice(0, size);
    return { items: page, nextPageToken: encodeKeyPageToken(shape, page[page.length - 1].username) };
  }

  /** Deletes the user, then its links (a link made meanwhile for a user that is gone is harmless: it names no user). */
  async deleteUser(realm: string, id: string): Promise<boolean> {
    const { collections, calls } = this.context;
    return calls.call(async () => {
      const deleted = await collections.users.deleteOne({ realm, id });
      await collections.links.deleteMany({ realm, userId: id });
      return deleted.deletedCount === 1;
    });
  }
}
