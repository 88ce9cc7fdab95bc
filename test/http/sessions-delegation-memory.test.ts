import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { runSessionsDelegationSuite } from "./sessions-delegation.suite.js";

// Instances of one process share its memory repository, as two Tessera instances share a database.
const shared = new MemoryRealmRepository();
runSessionsDelegationSuite("memory", async () => shared);
