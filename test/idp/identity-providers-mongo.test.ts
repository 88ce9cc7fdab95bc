import { mongoRepositoryOpener } from "../support/mongo-opener.js";
import { runIdentityProvidersSuite } from "./identity-providers.suite.js";

// Each instance opens its own connection to the same database, as separate processes would.
runIdentityProvidersSuite("mongodb", mongoRepositoryOpener("tessera_idp"));
