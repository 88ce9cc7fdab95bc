import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";

/** Repository calls that change nothing. */
const READ = /^(get|find|list|is)/;

/** A memory repository that counts its write calls by method name. */
export function countingRepository(): { repository: RealmRepository; writes: string[] } {
  const writes: string[] = [];
  const inner = new MemoryRealmRepository();
  const repository = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== "function") return value;
      if (typeof property === "string" && !READ.test(property)) writes.push(property);
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
  return { repository, writes };
}

