import { mongoRepositoryOpener } from "../support/mongo-opener.js";
import { runSessionsDelegationSuite } from "./sessions-delegation.suite.js";

// Each instance opens its own connection to the same database, as separate processes would.
runSessionsDelegationSuite("mongodb", mongoRepositoryOpener("tessera_sessions"));
