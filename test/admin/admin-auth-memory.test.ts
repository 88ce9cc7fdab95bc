import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { runAdminAuthSuite } from "./admin-auth.suite.js";

runAdminAuthSuite("memory", async () => new MemoryRealmRepository());
