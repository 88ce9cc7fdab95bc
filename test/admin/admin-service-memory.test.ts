import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { runAdminAuthSuite } from "./admin-auth.suite.js";
import { runAdminResourcesSuite } from "./admin-resources.suite.js";
import { runAdminAuditSuite, runAdminUpdatesSuite } from "./admin-updates.suite.js";
import { runAdminKeysSuite } from "./admin-keys.suite.js";
import { runAdminRealmFilesSuite } from "./admin-realm-files.suite.js";

runAdminAuthSuite("memory", async () => new MemoryRealmRepository());
runAdminResourcesSuite("memory", async () => new MemoryRealmRepository());
runAdminUpdatesSuite("memory", async () => new MemoryRealmRepository());
runAdminKeysSuite("memory", async () => new MemoryRealmRepository());
runAdminRealmFilesSuite("memory", async () => new MemoryRealmRepository());
runAdminAuditSuite("memory", async () => new MemoryRealmRepository());
