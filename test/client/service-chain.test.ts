/**
 * End to end: a real Tessera and three real services, gateway -> orders (Connect) -> inventory (grpc-js), each hop
 * verifying its incoming token and exchanging it for the next hop with @tessera/client.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../../gen/health/v1/health_pb.js";
import {
  bearerTokenOf,
  connectExchange,
  createTokenVerifier,
  exchangeInterceptor,
  formExchange,
  runWithIncomingToken,
  TokenExchangeError,
  TokenExchanger,
  verifyInterceptor,
  type VerifiedToken,
} from "../../packages/client/src/index.js";
import { exchangeGrpcInterceptor } from "../../packages/client/src/grpc-js.js";
import { parseRealmDocument } from "../../src/realm-file/index.js";
import { clientCredentialsToken } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";

const REALM = "client-chain";
const REALM_YAML = `
realm: ${REALM}
accessTokenLifespan: 300
scopes:
  - { name: gateway.use, audiences: [gateway] }
  - { name: orders.read, audiences: [orders-api] }
  - { name: orders.write, audiences: [orders-api] }
  - { name: inventory.read, audiences: [inventory-api] }
clients:
  - clientId: web
    secret: web-secret
    serviceAccount: true
    defaultScopes: [gateway.use, orders.read, orders.write, inventory.read]
  - clientId: gateway
    secret: gateway-secret
    optionalScopes: [orders.read, orders.write, inventory.read]
    tokenExchange: { enabled: true, mayAct: orders-api }
  - clientId: orders-api
    secret: orders-secret
    serviceAccount: true
    optionalScopes: [inventory.read]
    tokenExchange: { enabled: true, delegation: true }
  - clientId: inventory-api
    secret: inventory-secret
`;

/** A grpc-js definition of grpc.health.v1.Health/Check, (de)serialized by protobuf-es: inventory's API. */
const CHECK: grpc.MethodDefinition<HealthCheckRequest, HealthCheckResponse> = {
  path: "/grpc.health.v1.Health/Check",
  requestStream: false,
  responseStream: false,
  requestSerialize: (message) => Buffer.from(toBinary(HealthCheckRequestSchema, message)),
  requestDeserialize: (bytes) => fromBinary(HealthCheckRequestSchema, bytes),
  responseSerialize: (message) => Buffer.from(toBinary(HealthCheckResponseSchema, message)),
  responseDeserialize: (bytes) => fromBinary(HealthCheckResponseSchema, bytes),
};
const HealthClient = grpc.makeGenericClientConstructor({ Check: CHECK }, "Health");

/** A client-credentials token of `clientId` in the chain realm. */
const tokenFor = (harness: TesseraHarness, clientId: string, secret: string, scope?: string) => clientCredentialsToken(harness.tokenUrl(REALM), clientId, secret, scope);

describe("@tessera/client: gateway -> orders (Connect) -> inventory (grpc-js)", () => {
  let harness: TesseraHarness;
  let gateway: Server;
  let gatewayUrl: string;
  let orders: Server;
  let inventory: grpc.Server;
  const sessions: Http2SessionManager[] = [];
  const closers: (() => void)[] = [];
  /** Calls to Tessera made by the services (exchanges over gRPC and over the form endpoint, and orders' actor token). */
  let tesseraCalls = 0;
  /** What inventory verified, per request it served. */
  const reachedInventory: VerifiedToken[] = [];

  before(async () => {
    harness = await startTessera();
    await harness.repository.importRealm(await parseRealmDocument(REALM_YAML, `${REALM}.yaml`));
    const issuer = harness.issuer(REALM);

    // inventory: a grpc-js server; verifies with the plain function.
    const verifyInventory = createTokenVerifier({ issuer, audience: "inventory-api" });
    inventory = new grpc.Server();
    inventory.addService({ Check: CHECK }, {
      Check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) => {
        const token = bearerTokenOf(String(call.metadata.get("authorization")[0] ?? ""));
        if (!token) return callback({ code: grpc.status.UNAUTHENTICATED, details: "missing bearer token" });
        verifyInventory(token).then(
          (verified) => {
            reachedInventory.push(verified);
            callback(null, create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING }));
          },
          (error: Error) => callback({ code: grpc.status.UNAUTHENTICATED, details: error.message }),
        );
      },
    });
    const inventoryPort = await new Promise<number>((resolve, reject) =>
      inventory.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );

    // orders: a Connect server; verifies with the interceptor, exchanges over the form endpoint (delegation: its own
    // client-credentials token is the actor) and calls inventory through the grpc-js interceptor.
    const countingFetch: typeof fetch = (input, init) => {
      tesseraCalls++;
      return fetch(input, init);
    };
    let actorToken: Promise<string> | undefined;
    const ordersExchanger = new TokenExchanger({
      call: formExchange({ tokenUrl: harness.tokenUrl(REALM), auth: { clientId: "orders-api", clientSecret: "orders-secret" }, fetch: countingFetch }),
    });
    const inventoryClient = new HealthClient(`127.0.0.1:${inventoryPort}`, grpc.credentials.createInsecure(), {
      interceptors: [
        exchangeGrpcInterceptor({
          exchanger: ordersExchanger,
          audience: ["inventory-api"],
          scope: ["inventory.read"],
          actorToken: () => (actorToken ??= (tesseraCalls++, tokenFor(harness, "orders-api", "orders-secret"))),
        }),
      ],
    });
    closers.push(() => inventoryClient.close());
    const ordersHandler = connectNodeAdapter({
      interceptors: [verifyInterceptor(createTokenVerifier({ issuer, audience: "orders-api", requiredScopes: ["orders.read"] }))],
      routes: (router) =>
        router.service(Health, {
          check: () =>
            new Promise((resolve, reject) =>
              inventoryClient.Check(create(HealthCheckRequestSchema), (error: grpc.ServiceError | null, response: HealthCheckResponse) =>
                error ? reject(error) : resolve(response),
              ),
            ),
        }),
    });
    orders = createServer(ordersHandler);
    await new Promise<void>((resolve) => orders.listen(0, "127.0.0.1", resolve));
    const ordersUrl = `http://127.0.0.1:${(orders.address() as { port: number }).port}`;

    // gateway: a plain HTTP server; verifies with the function and calls orders over Connect, exchanging over gRPC.
    const countTessera: Interceptor = (next) => (request) => {
      tesseraCalls++;
      return next(request);
    };
    const tesseraSession = new Http2SessionManager(harness.baseUrl);
    sessions.push(tesseraSession);
    const gatewayExchanger = new TokenExchanger({
      call: connectExchange({
        transport: createGrpcTransport({ baseUrl: harness.baseUrl, sessionManager: tesseraSession, interceptors: [countTessera] }),
        realm: REALM,
        auth: { clientId: "gateway", clientSecret: "gateway-secret" },
      }),
    });
    const ordersClient = createClient(
      Health,
      createConnectTransport({
        baseUrl: ordersUrl,
        httpVersion: "1.1",
        interceptors: [exchangeInterceptor({ exchanger: gatewayExchanger, audience: ["orders-api"], scope: ["orders.read", "inventory.read"] })],
      }),
    );
    const verifyGateway = createTokenVerifier({ issuer, audience: "gateway" });
    gateway = createServer((req, res) => {
      const token = bearerTokenOf(req.headers.authorization);
      const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (!token) return reply(401, { error: "missing bearer token" });
      verifyGateway(token)
        .then((verified) => runWithIncomingToken({ token, verified }, () => ordersClient.check({})))
        .then(
          (response) => reply(200, { status: HealthCheckResponse_ServingStatus[response.status] }),
          (error: Error) => reply(502, { error: error.message, exchangeError: error.cause instanceof TokenExchangeError ? error.cause.error : undefined }),
        );
    });
    await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
    gatewayUrl = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
  });

  after(async () => {
    for (const close of closers) close();
    for (const session of sessions) session.abort();
    inventory?.forceShutdown();
    await Promise.all([gateway, orders].map((server) => server && new Promise((resolve) => server.close(resolve))));
    gateway?.closeAllConnections();
    await harness?.stop();
  });

  const callGateway = (token: string) => fetch(`${gatewayUrl}/orders`, { headers: { authorization: `Bearer ${token}` } });

  it("the token reaching inventory has aud inventory-api, only inventory.read, the web caller as sub and orders-api in act", async () => {
    const web = await tokenFor(harness, "web", "web-secret");
    const response = await callGateway(web);
    assert.deepEqual(await response.json(), { status: "SERVING" });
    const [reached] = reachedInventory.splice(0);
    assert.ok(reached);
    const webClaims = JSON.parse(Buffer.from(web.split(".")[1], "base64url").toString()) as { sub: string };
    assert.equal(reached.subject, webClaims.sub);
    assert.deepEqual(reached.audience, ["inventory-api"]);
    assert.deepEqual(reached.scopes, ["inventory.read"]);
    assert.equal(reached.actors.length, 1);
    assert.equal(reached.actors[0].clientId, "orders-api");
    assert.equal(reached.claims.azp, "orders-api");
  });

  it("a second request with the same token is served from the caches: no call reaches Tessera", async () => {
    const web = await tokenFor(harness, "web", "web-secret");
    assert.equal((await callGateway(web)).status, 200);
    const before = tesseraCalls;
    assert.equal((await callGateway(web)).status, 200);
    assert.equal(tesseraCalls, before, "both hops used their cached tokens");
    assert.equal(reachedInventory.splice(0).length, 2);
  });

  it("a revoked subject token stops the chain at the gateway's exchange: inventory is never called", async () => {
    const web = await tokenFor(harness, "web", "web-secret");
    const revoked = await fetch(`${harness.issuer(REALM)}/protocol/openid-connect/revoke`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("web:web-secret").toString("base64")}` },
      body: new URLSearchParams({ token: web }),
    });
    assert.equal(revoked.status, 200);
    const response = await callGateway(web);
    assert.equal(response.status, 502);
    const body = (await response.json()) as { error: string; exchangeError: string };
    assert.equal(body.exchangeError, "invalid_request");
    assert.ok(!body.error.includes(web), "the token is not echoed");
    assert.equal(reachedInventory.length, 0);
  });

  it("a caller without a token for orders' audience is refused by orders' verify interceptor (Unauthenticated)", async () => {
    const ordersAddress = (orders.address() as { port: number }).port;
    const direct = createClient(Health, createConnectTransport({ baseUrl: `http://127.0.0.1:${ordersAddress}`, httpVersion: "1.1" }));
    const gatewayOnly = await tokenFor(harness, "web", "web-secret", "gateway.use");
    await assert.rejects(direct.check({}, { headers: { authorization: `Bearer ${gatewayOnly}` } }), /\[unauthenticated\] token claim aud failed/);
    await assert.rejects(direct.check({}), /\[unauthenticated\] missing bearer token/);
    assert.equal(reachedInventory.length, 0);
  });
});
