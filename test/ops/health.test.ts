/**
 * Health: HTTP probes (`/healthz`, `/readyz`) and the standard gRPC health service, through
 * storage outages (a switchable storage here; a real MongoDB-compatible server in health-mongo).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code, ConnectError } from "@connectrpc/connect";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { eventually, getJson, healthClient, ServingStatus, switchableRepository } from "./support.js";

const HEALTH_PROTO = fileURLToPath(new URL("../../node_modules/grpc-health-check/proto/health/v1/health.proto", import.meta.url));

describe("health probes and grpc.health.v1", () => {
  let harness: TesseraHarness;
  let storage: ReturnType<typeof switchableRepository>;
  let client: ReturnType<typeof healthClient>;

  before(async () => {
    storage = switchableRepository();
    harness = await startTessera({ repository: storage.repository, operations: { readinessIntervalMs: 50 } });
    client = healthClient(harness.baseUrl);
    await eventually("ready", async () => (await getJson(harness.baseUrl, "/readyz")).status === 200);
  });

  after(async () => {
    client?.close();
    await harness?.stop();
  });

  it("GET /healthz then 200 while the process serves; GET /readyz then 200 with each check ok", async () => {
    assert.deepEqual(await getJson(harness.baseUrl, "/healthz"), { status: 200, body: { status: "ok" } });
    assert.deepEqual(await getJson(harness.baseUrl, "/readyz"), {
      status: 200,
      body: { status: "ready", checks: { storage: "ok", keys: "ok" } },
    });
    const head = await fetch(`${harness.baseUrl}/readyz`, { method: "HEAD" });
    assert.equal(head.status, 200);
  });

  it("Check with the overall service, each served service, then SERVING; an unknown service then NOT_FOUND", async () => {
    for (const service of ["", "tessera.exchange.v1.TokenExchangeService", "tessera.admin.v1.AdminService", "grpc.health.v1.Health"]) {
      assert.equal((await client.health.check({ service })).status, ServingStatus.SERVING, service);
    }
    await assert.rejects(client.health.check({ service: "no.such.Service" }), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.NotFound);
      return true;
    });
    const { statuses } = await client.health.list({});
    assert.equal(statuses[""]?.status, ServingStatus.SERVING);
    assert.equal(statuses["tessera.exchange.v1.TokenExchangeService"]?.status, ServingStatus.SERVING);
  });

  it("a grpc-js client (as grpc_health_probe) with the standard health.proto then SERVING", async () => {
    type HealthStub = grpc.Client & {
      Check(request: { service: string }, callback: (error: grpc.ServiceError | null, answer?: { status: string }) => void): void;
    };
    const definition = protoLoader.loadSync(HEALTH_PROTO, { keepCase: true, enums: String });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthStub } } };
    };
    const stub = new loaded.grpc.health.v1.Health(`127.0.0.1:${harness.port}`, grpc.credentials.createInsecure());
    try {
      const answer = await new Promise<{ status: string }>((resolve, reject) =>
        stub.Check({ service: "" }, (error, value) => (error || !value ? reject(error) : resolve(value))),
      );
      assert.equal(answer.status, "SERVING");
    } finally {
      stub.close();
    }
  });

  it("storage unreachable then /readyz 503 and Watch NOT_SERVING; storage back then ready and SERVING by itself", async () => {
    const abort = new AbortController();
    const statuses: ServingStatus[] = [];
    const watching = (async () => {
      try {
        for await (const answer of client.health.watch({ service: "" }, { signal: abort.signal })) statuses.push(answer.status);
      } catch (error) {
        if (!(error instanceof ConnectError && error.code === Code.Canceled)) throw error;
      }
    })();
    await eventually("first Watch answer", async () => statuses.length === 1);
    assert.deepEqual(statuses, [ServingStatus.SERVING]);

    storage.setReachable(false);
    await eventually("not ready", async () => (await getJson(harness.baseUrl, "/readyz")).status === 503);
    assert.deepEqual((await getJson(harness.baseUrl, "/readyz")).body, { status: "not_ready", checks: { storage: "failing", keys: "ok" } });
    assert.equal((await getJson(harness.baseUrl, "/healthz")).status, 200, "still live: restarting would not help");
    assert.equal((await client.health.check({ service: "" })).status, ServingStatus.NOT_SERVING);
    await eventually("Watch NOT_SERVING", async () => statuses.length === 2);

    storage.setReachable(true);
    await eventually("ready again", async () => (await getJson(harness.baseUrl, "/readyz")).status === 200);
    await eventually("Watch SERVING", async () => statuses.length === 3);
    assert.deepEqual(statuses, [ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]);
    abort.abort();
    await watching;
    assert.ok(harness.logs().some((line) => line.includes('"readiness check failing"') && line.includes('"check":"storage"')));
  });

  it("Watch of an unknown service then SERVICE_UNKNOWN without ending the call", async () => {
    const abort = new AbortController();
    const stream = client.health.watch({ service: "no.such.Service" }, { signal: abort.signal })[Symbol.asyncIterator]();
    assert.equal((await stream.next()).value?.status, ServingStatus.SERVICE_UNKNOWN);
    const next = stream.next();
    const ended = await Promise.race([next.then(() => true, () => true), new Promise((resolve) => setTimeout(() => resolve(false), 200))]);
    assert.equal(ended, false, "the call stays open");
    abort.abort();
    await next.catch(() => undefined);
  });

  it("shutdown begun then not ready, Watch answers NOT_SERVING and ends", async () => {
    const other = await startTessera({ operations: { readinessIntervalMs: 50 } });
    const otherClient = healthClient(other.baseUrl);
    try {
      await eventually("ready", async () => (await getJson(other.baseUrl, "/readyz")).status === 200);
      const statuses: ServingStatus[] = [];
      const watching = (async () => {
        for await (const answer of otherClient.health.watch({ service: "" })) statuses.push(answer.status);
      })();
      await eventually("first answer", async () => statuses.length === 1);
      other.tessera.operations.beginShutdown();
      await watching;
      assert.deepEqual(statuses, [ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
      assert.deepEqual((await getJson(other.baseUrl, "/readyz")).body.status, "shutting_down");
    } finally {
      otherClient.close();
      await other.stop();
    }
  });
});
