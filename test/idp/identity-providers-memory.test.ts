import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { runIdentityProvidersSuite } from "./identity-providers.suite.js";

// Instances of one process share its memory repository, as two Tessera instances share a database.
const shared = new MemoryRealmRepository();
runIdentityProvidersSuite("memory", async () => shared);
