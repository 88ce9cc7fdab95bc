import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { MongoClient } from "mongodb";
import { REALM_DEFAULTS, type Realm } from "../../src/domain/index.js";
import { StorageConflictError, StorageUnavailableError } from "../../src/storage/realm-repository.js";
import { MongoRealmRepository } from "../../src/storage/mongo/mongo-realm-repository.js";
import { freePort } from "../support/ports.js";
import { startMongoServer, type MongoServer } from "../support/mongo-server.js";
import { runRealmRepositoryConformance } from "./realm-repository.conformance.js";

const newDbName = () => `tessera_test_${randomUUID().replaceAll("-", "")}`;

describe("MongoRealmRepository", () => {
  let server: MongoServer;
  const dbName = newDbName();
  /** Every database the tests created, dropped at the end (FerretDB's data dir goes anyway; MONGODB_URI's does not). */
  const dbNames = [dbName];

  before(async () => {
    server = await startMongoServer();
  });
  after(async () => {
    const client = await MongoClient.connect(server.uri);
    try {
      for (const name of dbNames) await client.db(name).dropDatabase();
    } finally {
      await client.close();
    }
    await server.stop();
  });

  // Every open() is a fresh database; openSecond() is another connection to the same one.
  runRealmRepositoryConformance("MongoRealmRepository", async () => {
    const name = newDbName();
    dbNames.push(name);
    const repo = await MongoRealmRepository.connect(server.uri, { dbName: name });
    return {
      repo,
      openSecond: () => MongoRealmRepository.connect(server.uri, { dbName: name }),
      cleanup: () => repo.close(),
    };
  });

  it("connect when the server is unreachable then StorageUnavailableError within seconds, naming host:port but no credentials", async () => {
    const port = await freePort();
    const started = Date.now();
    const uri = `mongodb://tessera:s3cr%40t-pw@127.0.0.1:${port}/?authSource=admin`;
    const error = await MongoRealmRepository.connect(uri, { serverSelectionTimeoutMS: 1500 }).then(
      () => assert.fail("connect resolved"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof StorageUnavailableError, String(error));
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.doesNotMatch(error.message, /s3cr|tessera:/);
  });

  it("consumeJti across two repository instances on the same database: the second sees the first's", async () => {
    const [a, b] = await Promise.all([
      MongoRealmRepository.connect(server.uri, { dbName }),
      MongoRealmRepository.connect(server.uri, { dbName }),
    ]);
    try {
      const realm = `r-${randomUUID()}`;
      await a.createRealm(makeRealm(realm));
      assert.equal((await b.getRealm(realm))?.name, realm);
      const expiresAt = new Date(Date.now() + 60_000);
      assert.equal(await a.consumeJti(realm, "web", "jti-1", expiresAt), true);
      assert.equal(await b.consumeJti(realm, "web", "jti-1", expiresAt), false);
      assert.equal(await b.consumeJti(realm, "web", "jti-2", expiresAt), true);
      assert.equal(await a.consumeJti(realm, "web", "jti-2", expiresAt), false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  describe("without transactions", () => {
    let raw: MongoClient;
    let repo: MongoRealmRepository;
    before(async () => {
      raw = await MongoClient.connect(server.uri);
      repo = await MongoRealmRepository.connect(server.uri, { dbName });
    });
    after(async () => {
      await repo.close();
      await raw.close();
    });

    it("a realm left hidden by an interrupted import is invisible, its name taken, and deleteRealm clears it", async () => {
      const name = `r-${randomUUID()}`;
      const realm = makeRealm(name);
      await raw.db(dbName).collection("realms").insertOne({ ...realm, _state: "importing" });
      await raw.db(dbName).collection("clients").insertOne({ realm: name, clientId: "half-written" });
      assert.equal(await repo.getRealm(name), undefined);
      assert.ok(!(await repo.listRealms()).some((r) => r.name === name));
      await assert.rejects(repo.createRealm(realm), StorageConflictError);
      assert.equal(await repo.deleteRealm(name), true);
      await repo.createRealm(realm);
      assert.deepEqual(await repo.getRealm(name), realm);
      assert.deepEqual(await repo.listClients(name), []);
    });

    it("objects orphaned by an interrupted delete are not inherited by a new realm of the same name", async () => {
      const name = `r-${randomUUID()}`;
      const db = raw.db(dbName);
      await db.collection("scopes").insertOne({ realm: name, name: "orphan", audiences: [] });
      await db.collection("identity_providers").insertOne({ realm: name, alias: "orphan", claims: { attributes: [] } });
      const link = { alias: "orphan", externalUserId: "ext", userId: "u", createdAt: new Date() };
      await db.collection("identity_provider_links").insertOne({ realm: name, ...link });
      await repo.createRealm(makeRealm(name));
      assert.deepEqual(await repo.listScopes(name), []);
      assert.deepEqual(await repo.listIdentityProviders(name), []);
      assert.equal(await repo.findLink(name, "orphan", "ext"), undefined);
      assert.deepEqual(await repo.listLinksOfUser(name, "u"), []);
    });

    it("identity providers keep user-chosen keys (JWK members, attribute names) out of field names", async () => {
      const name = `r-${randomUUID()}`;
      await repo.createRealm(makeRealm(name));
      await repo.createIdentityProvider(name, {
        alias: "corp",
        enabled: true,
        issuer: "https://corp.example.com",
        jwks: { keys: [{ kty: "RSA", n: "AQAB", e: "AQAB", "x.y": 1, $z: { "a.b": 2 } }] },
        audiences: ["tessera"],
        algorithms: ["RS256"],
        claims: { userId: "sub", username: "u", email: "e", attributes: { "x.y": "c.d", $role: "roles" } },
        conditions: [{ name: "n.m", expression: "claims['a.b'] == '$c'" }],
        userPolicy: "create",
        storeTokens: true,
      });
      const doc = await raw.db(dbName).collection("identity_providers").findOne({ realm: name, alias: "corp" });
      assert.ok(doc);
      const fieldNames = (value: unknown): string[] =>
        Array.isArray(value)
          ? value.flatMap(fieldNames)
          : typeof value === "object" && value !== null && !(value instanceof Date) && value.constructor === Object
            ? Object.entries(value).flatMap(([key, inner]) => [key, ...fieldNames(inner)])
            : [];
      const odd = fieldNames(doc).filter((key) => key.includes(".") || key.startsWith("$"));
      assert.deepEqual(odd, []);
    });

    it("creates the identity provider and link indexes", async () => {
      const db = raw.db(dbName);
      const keysOf = async (collection: string) =>
        (await db.collection(collection).indexes()).map((index) => ({ key: index.key, unique: index.unique === true }));
      const providers = await keysOf("identity_providers");
      assert.ok(providers.some((i) => i.unique && JSON.stringify(i.key) === JSON.stringify({ realm: 1, alias: 1 })));
      const links = await keysOf("identity_provider_links");
      for (const [key, unique] of [
        [{ realm: 1, alias: 1, externalUserId: 1 }, true],
        [{ realm: 1, alias: 1, userId: 1 }, true],
        [{ realm: 1, userId: 1 }, false],
      ] as const) {
        assert.ok(
          links.some((i) => i.unique === unique && JSON.stringify(i.key) === JSON.stringify(key)),
          `no index ${JSON.stringify(key)}`,
        );
      }
    });

    it("expired used jtis are swept by consumeJti without a TTL index", async () => {
      const realm = `r-${randomUUID()}`;
      const usedJtis = raw.db(dbName).collection("used_jtis");
      await usedJtis.insertOne({ realm, clientId: "web", jti: "stale", expiresAt: new Date(Date.now() - 1000) });
      const fresh = await MongoRealmRepository.connect(server.uri, { dbName });
      await fresh.consumeJti(realm, "web", "new", new Date(Date.now() + 60_000));
      await fresh.close(); // waits for the sweep
      assert.deepEqual((await usedJtis.find({ realm }).toArray()).map((d) => d.jti), ["new"]);
      const indexes = await usedJtis.indexes();
      assert.ok(!indexes.some((index) => index.expireAfterSeconds !== undefined));
    });
  });
});

function makeRealm(name: string): Realm {
  return { name, ...REALM_DEFAULTS };
}

