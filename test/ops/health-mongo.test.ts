/**
 * Readiness through a real outage: a MongoDB-compatible server (FerretDB) is stopped and started
 * again on the same port with the same data, under a running Tessera.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { MongoClient } from "mongodb";
import { MongoRealmRepository } from "../../src/storage/mongo/mongo-realm-repository.js";
import { startMongoServer, type MongoServer } from "../support/mongo-server.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { eventually, getJson, healthClient, ServingStatus } from "./support.js";

const REALM = "ops-health-mongo";

describe("readiness with MongoDB stopped and restarted", { skip: process.env.MONGODB_URI ? "an external MONGODB_URI cannot be stopped by the test" : false }, () => {
  let mongo: MongoServer;
  let harness: TesseraHarness;
  let client: ReturnType<typeof healthClient>;
  const dbName = `tessera_ops_${randomUUID().replaceAll("-", "")}`;

  before(async () => {
    mongo = await startMongoServer();
    // Short server selection: an operation on a stopped server fails within a second.
    const repository = await MongoRealmRepository.connect(mongo.uri, { dbName, serverSelectionTimeoutMS: 1000 });
    await repository.importRealm((await buildTestRealm(REALM)).bundle);
    harness = await startTessera({ repository, operations: { readinessIntervalMs: 200, readinessTimeoutMs: 1500 } });
    client = healthClient(harness.baseUrl);
  });

  after(async () => {
    client?.close();
    await harness?.stop();
    await harness?.repository.close();
    if (!mongo) return;
    const raw = await MongoClient.connect(mongo.uri);
    await raw.db(dbName).dropDatabase().finally(() => raw.close());
    await mongo.stop();
  });

  it("ready, then not ready while the server is down (token requests 503), then ready again by itself", async () => {
    await eventually("ready", async () => (await getJson(harness.baseUrl, "/readyz")).status === 200);
    assert.equal((await client.health.check({ service: "" })).status, ServingStatus.SERVING);

    await mongo.halt?.();
    await eventually("not ready", async () => (await getJson(harness.baseUrl, "/readyz")).status === 503, 15_000);
    assert.equal((await getJson(harness.baseUrl, "/readyz")).body.status, "not_ready");
    assert.equal((await client.health.check({ service: "" })).status, ServingStatus.NOT_SERVING);
    assert.equal((await getJson(harness.baseUrl, "/healthz")).status, 200);
    const refused = await postForm(harness.tokenUrl(REALM), { grant_type: "client_credentials" }, { basic: ["gateway", SECRETS.gateway] });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error, "temporarily_unavailable");

    await mongo.restart?.();
    await eventually("ready again", async () => (await getJson(harness.baseUrl, "/readyz")).status === 200, 20_000);
    assert.equal((await client.health.check({ service: "" })).status, ServingStatus.SERVING);
    const issued = await postForm(harness.tokenUrl(REALM), { grant_type: "client_credentials" }, { basic: ["gateway", SECRETS.gateway] });
    assert.equal(issued.status, 200);
  });
});
