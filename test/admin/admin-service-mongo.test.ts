import { mongoRepositoryOpener } from "../support/mongo-opener.js";
import { runAdminAuthSuite } from "./admin-auth.suite.js";
import { runAdminResourcesSuite } from "./admin-resources.suite.js";
import { runAdminAuditSuite, runAdminUpdatesSuite } from "./admin-updates.suite.js";
import { runAdminKeysSuite } from "./admin-keys.suite.js";
import { runAdminRealmFilesSuite } from "./admin-realm-files.suite.js";

// One MongoDB-compatible server for both suites; each opens its own connections.
const open = mongoRepositoryOpener("tessera_admin");
runAdminAuthSuite("mongodb", open);
runAdminResourcesSuite("mongodb", open);
runAdminUpdatesSuite("mongodb", open);
runAdminKeysSuite("mongodb", open);
runAdminRealmFilesSuite("mongodb", open);
runAdminAuditSuite("mongodb", open);
