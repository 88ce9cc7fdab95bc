import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { runRealmRepositoryConformance } from "./realm-repository.conformance.js";

// Every open() is fresh storage; a memory repository's storage is the instance itself, so "a second
// instance on the same storage" is that same instance.
runRealmRepositoryConformance("MemoryRealmRepository", async () => {
  const repo = new MemoryRealmRepository();
  return { repo, openSecond: async () => repo, cleanup: () => repo.close() };
});
