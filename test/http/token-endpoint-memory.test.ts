import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { runTokenEndpointSuite } from "./token-endpoint.suite.js";

// Instances of one process share its memory repository, as two Tessera instances share a database.
const shared = new MemoryRealmRepository();
runTokenEndpointSuite("memory", async () => shared);
