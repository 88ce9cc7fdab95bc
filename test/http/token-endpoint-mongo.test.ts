import { mongoRepositoryOpener } from "../support/mongo-opener.js";
import { runTokenEndpointSuite } from "./token-endpoint.suite.js";

// Each instance opens its own connection to the same database, as separate processes would.
runTokenEndpointSuite("mongodb", mongoRepositoryOpener("tessera_http"));
