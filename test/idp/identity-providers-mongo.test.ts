import { randomUUID } from "node:crypto";
import { after } from "node:test";
import { MongoClient } from "mongodb";
import { MongoRealmRepository } from "../../src/storage/mongo/mongo-realm-repository.js";
import { startMongoServer, type MongoServer } from "../support/mongo-server.js";
import { runIdentityProvidersSuite } from "./identity-providers.suite.js";

let server: Promise<MongoServer> | undefined;
const dbName = `tessera_idp_${randomUUID().replaceAll("-", "")}`;

// Each instance opens its own connection to the same database, as separate processes would.
runIdentityProvidersSuite("mongodb", async () => {
  server ??= startMongoServer();
  return MongoRealmRepository.connect((await server).uri, { dbName });
});

after(async () => {
  if (!server) return;
  const { uri, stop } = await server;
  const client = await MongoClient.connect(uri);
  await client.db(dbName).dropDatabase().finally(() => client.close());
  await stop();
});
