/**
 * @tessera/client's outgoing helpers with a real Tessera: the fetch wrapper, a workload-identity token file that
 * is re-read when it changes, and grpc-js CallCredentials on a TLS channel.
 */
import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { decodeJwt } from "jose";
import { exchangeFetch, formExchange, TokenExchangeError, TokenExchanger, workloadTokenFile } from "../../packages/client/src/index.js";
import { exchangeCallCredentials } from "../../packages/client/src/grpc-js.js";
import { certificateAuthority, localhostCertificate } from "../support/certificates.js";
import { clientCredentialsToken } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "client-outgoing";

describe("@tessera/client outgoing helpers", () => {
  let harness: TesseraHarness;
  let echo: Server;
  let echoUrl: string;
  const seen: IncomingHttpHeaders[] = [];
  let dir: string;
  let misses = 0;
  let exchanger: TokenExchanger;

  before(async () => {
    harness = await startTessera();
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    echo = createServer((req, res) => {
      seen.push(req.headers);
      res.end("ok");
    });
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}/api`;
    dir = await mkdtemp(join(tmpdir(), "tessera-client-"));
    exchanger = new TokenExchanger({
      call: formExchange({ tokenUrl: harness.tokenUrl(REALM), auth: { clientId: "gateway", clientSecret: SECRETS.gateway } }),
      hooks: { onCacheMiss: () => misses++ },
    });
  });

  after(async () => {
    await new Promise((resolve) => echo?.close(resolve));
    await rm(dir, { recursive: true, force: true });
    await harness?.stop();
  });

  const gatewayToken = () => clientCredentialsToken(harness.tokenUrl(REALM), "gateway", SECRETS.gateway, "orders.read");

  it("exchangeFetch with a workload token file: requests carry the exchanged token; a rotated file is read again", async () => {
    const path = join(dir, "token");
    const first = await gatewayToken();
    await writeFile(path, `${first}\n`);
    const fetchOrders = exchangeFetch({ exchanger, audience: ["orders-api"], subjectToken: workloadTokenFile(path) });
    const startMisses = misses;
    assert.equal(await (await fetchOrders(echoUrl, { headers: { "x-trace": "1" } })).text(), "ok");
    assert.equal(await (await fetchOrders(echoUrl)).text(), "ok");
    const [one, two] = seen.splice(0);
    assert.equal(one["x-trace"], "1", "the caller's headers are kept");
    const sent = (one.authorization ?? "").replace(/^Bearer /, "");
    assert.equal(decodeJwt(sent).aud, "orders-api");
    assert.notEqual(sent, first, "the exchanged token is sent, not the file's");
    assert.equal(two.authorization, one.authorization, "the second request used the cached token");
    assert.equal(misses - startMisses, 1);

    // Rotation as the kubelet does it: a new file moved into place.
    const second = await gatewayToken();
    await writeFile(`${path}.new`, second);
    await rename(`${path}.new`, path);
    await fetchOrders(echoUrl);
    const [three] = seen.splice(0);
    assert.notEqual(three.authorization, one.authorization);
    assert.equal(misses - startMisses, 2, "the new file token was exchanged");
  });

  it("exchangeFetch with no incoming token rejects with a TokenExchangeError and sends nothing", async () => {
    const fetchOrders = exchangeFetch({ exchanger, audience: ["orders-api"] });
    await assert.rejects(fetchOrders(echoUrl), (error: unknown) => error instanceof TokenExchangeError && /no incoming token/.test(error.message));
    assert.equal(seen.length, 0);
  });

  it("exchangeFetch: a refused exchange rejects with the typed error and sends nothing", async () => {
    const fetchOrders = exchangeFetch({ exchanger, audience: ["no-such-service"], subjectToken: () => gatewayToken() });
    await assert.rejects(fetchOrders(echoUrl), (error: unknown) => error instanceof TokenExchangeError && error.error === "invalid_target");
    assert.equal(seen.length, 0);
  });

  it("exchangeCallCredentials on a TLS grpc-js channel: the server receives the exchanged token as authorization", async () => {
    const ca = await certificateAuthority("client-test-ca");
    const server = await localhostCertificate(ca);
    const received: string[] = [];
    const definition: grpc.ServiceDefinition = {
      Echo: {
        path: "/test.Echo/Echo",
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: (value: Buffer) => value,
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (value: Buffer) => value,
      },
    };
    const grpcServer = new grpc.Server();
    grpcServer.addService(definition, {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        received.push(String(call.metadata.get("authorization")[0]));
        callback(null, call.request);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(server.cert), private_key: Buffer.from(server.key) }]), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const Client = grpc.makeGenericClientConstructor(definition, "Echo");
    const subject = await gatewayToken();
    const make = (audience: string) =>
      new Client(
        `127.0.0.1:${port}`,
        grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(Buffer.from(ca.cert)), exchangeCallCredentials({ exchanger, audience: [audience], subjectToken: () => subject })),
      );
    const call = (client: grpc.Client) =>
      new Promise<Buffer>((resolve, reject) =>
        (client as unknown as { Echo: (r: Buffer, cb: (e: grpc.ServiceError | null, v: Buffer) => void) => void }).Echo(Buffer.from("hi"), (error, value) => (error ? reject(error) : resolve(value))),
      );
    const good = make("orders-api");
    const refused = make("no-such-service");
    try {
      assert.equal((await call(good)).toString(), "hi");
      assert.equal(decodeJwt(received[0].replace(/^Bearer /, "")).aud, "orders-api");
      const error = (await call(refused).then(() => assert.fail("expected a refusal"), (e: unknown) => e)) as grpc.ServiceError;
      assert.notEqual(error.code, grpc.status.OK);
      assert.match(error.details, /invalid_target/);
      assert.equal(received.length, 1, "the refused call never reached the server");
    } finally {
      good.close();
      refused.close();
      grpcServer.forceShutdown();
    }
  });
});
