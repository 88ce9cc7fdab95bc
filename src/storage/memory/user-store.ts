import type { User } from "../../domain/index.js";
import type { UserStore } from "../composed-realm-repository.js";
import { pageByKey, userPageShape } from "../paging.js";
import { StorageConflictError, StorageNotFoundError, type Page, type UserQuery } from "../realm-repository.js";
import { byKey, copy, putUnique } from "./copies.js";
import { removeLink } from "./link-store.js";
import type { MemoryState, RealmData } from "./memory-state.js";

/** Stores a new user; throws {@link StorageConflictError} when its id or username is taken. */
export function insertUser(data: RealmData, user: User): void {
  for (const existing of data.users.values()) {
    if (existing.username === user.username) throw new StorageConflictError(`username ${user.username} is taken`);
  }
  putUnique(data.users, user.id, user, "user");
}

/** A realm's users, by id, with unique usernames; deleting one deletes its links. */
export class MemoryUserStore implements UserStore {
  constructor(private readonly state: MemoryState) {}

  async createUser(realm: string, user: User): Promise<void> {
    insertUser(this.state.required(realm), user);
  }

  async getUser(realm: string, id: string): Promise<User | undefined> {
    const user = this.state.data(realm)?.users.get(id);
    return user && structuredClone(user);
  }

  async findUserByUsername(realm: string, username: string): Promise<User | undefined> {
    const users = this.state.data(realm)?.users.values() ?? [];
    for (const user of users) if (user.username === username) return structuredClone(user);
    return undefined;
  }

  async updateUser(realm: string, user: User): Promise<void> {
    const data = this.state.required(realm);
    if (!data.users.has(user.id)) throw new StorageNotFoundError(`user ${user.id} not found in realm ${realm}`);
    for (const other of data.users.values()) {
      if (other.username === user.username && other.id !== user.id) {
        throw new StorageConflictError(`username ${user.username} is taken in realm ${realm}`);
      }
    }
    data.users.set(user.id, copy(user));
  }

  async listUsers(realm: string, query: UserQuery): Promise<Page<User>> {
    const { usernamePrefix, email, enabled } = query;
    const users = [...(this.state.data(realm)?.users.values() ?? [])].sort(byKey((u) => u.username));
    const page = pageByKey(users, query, userPageShape(realm, query), (u) => u.username, (u) =>
      (usernamePrefix === undefined || u.username.startsWith(usernamePrefix)) &&
      (email === undefined || u.email === email) &&
      (enabled === undefined || u.enabled === enabled),
    );
    return { ...page, items: page.items.map(copy) };
  }

  async deleteUser(realm: string, id: string): Promise<boolean> {
    const data = this.state.data(realm);
    if (!data?.users.delete(id)) return false;
    for (const link of [...(data.linksOfUsers.get(id)?.values() ?? [])]) removeLink(data, link);
    return true;
  }
}
