import { randomUUID } from "node:crypto";
import { after } from "node:test";
import { MongoClient } from "mongodb";
import { MongoRealmRepository } from "../../src/storage/mongo/mongo-realm-repository.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { startMongoServer, type MongoServer } from "./mongo-server.js";

/**
 * For a suite run against MongoDB: a function that opens a new connection (a new repository
 * instance, as another process would) to one fresh database on a MongoDB-compatible server started
 * on first use; the database is dropped and the server stopped after the file's tests.
 */
export function mongoRepositoryOpener(prefix: string): () => Promise<RealmRepository> {
  let server: Promise<MongoServer> | undefined;
  const dbName = `${prefix}_${randomUUID().replaceAll("-", "")}`;
  after(async () => {
    if (!server) return;
    const { uri, stop } = await server;
    const client = await MongoClient.connect(uri);
    await client.db(dbName).dropDatabase().finally(() => client.close());
    await stop();
  });
  return async () => {
    server ??= startMongoServer();
    return MongoRealmRepository.connect((await server).uri, { dbName });
  };
}
