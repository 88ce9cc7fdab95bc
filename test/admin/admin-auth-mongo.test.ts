import { mongoRepositoryOpener } from "../support/mongo-opener.js";
import { runAdminAuthSuite } from "./admin-auth.suite.js";

runAdminAuthSuite("mongodb", mongoRepositoryOpener("tessera_admin_auth"));
