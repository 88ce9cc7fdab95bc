import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { runRealmRepositoryConformance } from "./realm-repository.conformance.js";

runRealmRepositoryConformance("MemoryRealmRepository", async () => {
  const repo = new MemoryRealmRepository();
  return { repo, cleanup: () => repo.close() };
});
