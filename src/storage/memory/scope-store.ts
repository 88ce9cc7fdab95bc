import type { Scope } from "../../domain/index.js";
import type { ScopeStore } from "../composed-realm-repository.js";
import { listOf, putUnique, replaceExisting } from "./copies.js";
import type { MemoryState } from "./memory-state.js";

/** A realm's scopes, by name. */
export class MemoryScopeStore implements ScopeStore {
  constructor(private readonly state: MemoryState) {}

  async createScope(realm: string, scope: Scope): Promise<void> {
    putUnique(this.state.required(realm).scopes, scope.name, scope, "scope");
  }

  async getScope(realm: string, name: string): Promise<Scope | undefined> {
    const scope = this.state.data(realm)?.scopes.get(name);
    return scope && structuredClone(scope);
  }

  async listScopes(realm: string): Promise<Scope[]> {
    return listOf(this.state.data(realm)?.scopes, (s) => s.name);
  }

  async updateScope(realm: string, scope: Scope): Promise<void> {
    replaceExisting(this.state.required(realm).scopes, scope.name, scope, "scope");
  }

  async deleteScope(realm: string, name: string): Promise<boolean> {
    return this.state.data(realm)?.scopes.delete(name) ?? false;
  }
}
