/**
 * Mutual TLS (RFC 8705): tls_client_auth by a certificate chaining to --tls-client-ca with the
 * registered subject DN, certificate-bound access tokens (`cnf.x5t#S256`) over the form endpoint and
 * gRPC, and the metadata that says so. Certificates are generated in the test.
 */
import assert from "node:assert/strict";
import https from "node:https";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { decodeJwt } from "jose";
import { certificate, certificateAuthority, localhostCertificate, thumbprint, type Pem } from "../support/certificates.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "ops-mtls";
const PROTO_ROOT = fileURLToPath(new URL("../../proto", import.meta.url));

/** A form POST over HTTPS, presenting `client` as the TLS client certificate when given. */
function postTls(url: string, form: Record<string, string>, ca: string, client?: Pem): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: "POST", ca, ...(client && { cert: client.cert, key: client.key }), headers: { "content-type": "application/x-www-form-urlencoded" } }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("mutual TLS (RFC 8705)", () => {
  let tessera: TesseraHarness;
  let ca: Pem;
  let client: Pem;
  let url: string;

  before(async () => {
    ca = await certificateAuthority("Tessera Test CA");
    const server = await localhostCertificate(ca);
    client = await certificate({ CN: "batch-mtls", O: "Acme" }, ca);
    tessera = await startTessera({ tls: { ...server, ca: ca.cert } });
    const realm = await buildTestRealm(REALM);
    const template = realm.bundle.clients.find((c) => c.clientId === "gateway");
    assert.ok(template);
    realm.bundle.clients.push(
      { ...template, clientId: "mtls-client", secretHash: undefined, authMethods: ["tls_client_auth"], tlsClientAuthSubjectDn: "O=Acme, CN=batch-mtls", certificateBoundAccessTokens: true, serviceAccountUserId: "mtls-sa" },
      { ...template, clientId: "mtls-unbound", secretHash: undefined, authMethods: ["tls_client_auth"], tlsClientAuthSubjectDn: "CN=batch-mtls,O=Acme", serviceAccountUserId: "mtls-unbound-sa" },
    );
    await tessera.repository.importRealm(realm.bundle);
    url = tessera.tokenUrl(REALM);
  });
  after(() => tessera.stop());

  it("a certificate from the client CA with the registered subject DN then a token bound to it", async () => {
    const answer = await postTls(url, { grant_type: "client_credentials", client_id: "mtls-client", scope: "orders.read" }, ca.cert, client);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const claims = decodeJwt(answer.body.access_token as string);
    assert.equal(claims.client_id, "mtls-client");
    assert.deepEqual(claims.cnf, { "x5t#S256": thumbprint(client.cert) });
  });

  it("a client that does not ask for bound tokens then no cnf", async () => {
    const answer = await postTls(url, { grant_type: "client_credentials", client_id: "mtls-unbound" }, ca.cert, client);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(decodeJwt(answer.body.access_token as string).cnf, undefined);
  });

  it("a self-signed certificate with the same subject then invalid_client", async () => {
    const rogue = await certificate({ CN: "batch-mtls", O: "Acme" });
    const answer = await postTls(url, { grant_type: "client_credentials", client_id: "mtls-client" }, ca.cert, rogue);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, "invalid_client");
  });

  it("a certificate from the CA with another subject then invalid_client", async () => {
    const other = await certificate({ CN: "someone-else", O: "Acme" }, ca);
    const answer = await postTls(url, { grant_type: "client_credentials", client_id: "mtls-client" }, ca.cert, other);
    assert.equal(answer.status, 401);
  });

  it("no client certificate then invalid_client", async () => {
    const answer = await postTls(url, { grant_type: "client_credentials", client_id: "mtls-client" }, ca.cert);
    assert.equal(answer.status, 401);
  });

  it("a secret client over mutual TLS then authenticated by its secret, the connection's certificate ignored", async () => {
    const answer = await postTls(url, { grant_type: "client_credentials", client_id: "gateway", client_secret: SECRETS.gateway }, ca.cert, client);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(decodeJwt(answer.body.access_token as string).cnf, undefined);
  });

  it("gRPC over TLS with the client certificate then a bound token", async () => {
    const definition = protoLoader.loadSync("tessera/exchange/v1/token_exchange_service.proto", { includeDirs: [PROTO_ROOT], keepCase: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      tessera: { exchange: { v1: { TokenExchangeService: new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client & Record<string, grpc.requestCallback<unknown> | ((...args: unknown[]) => void)> } } };
    };
    const stub = new loaded.tessera.exchange.v1.TokenExchangeService(
      `127.0.0.1:${tessera.port}`,
      grpc.credentials.createSsl(Buffer.from(ca.cert), Buffer.from(client.key), Buffer.from(client.cert)),
    );
    try {
      const response = await new Promise<{ access_token: string }>((resolve, reject) =>
        (stub.ClientCredentials as (req: object, cb: (e: grpc.ServiceError | null, r: { access_token: string }) => void) => void)(
          { realm: REALM, client: { client_id: "mtls-client" } },
          (error, answer) => (error ? reject(error) : resolve(answer)),
        ),
      );
      assert.deepEqual(decodeJwt(response.access_token).cnf, { "x5t#S256": thumbprint(client.cert) });
    } finally {
      stub.close();
    }
  });

  it("metadata then tls_client_auth and certificate-bound tokens are advertised", async () => {
    // Over node https, which is told to trust the test CA.
    const metadata = await new Promise<Record<string, unknown>>((resolve, reject) =>
      https
        .get(`${tessera.issuer(REALM)}/.well-known/openid-configuration`, { ca: ca.cert }, (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => (text += chunk));
          res.on("end", () => resolve(JSON.parse(text) as Record<string, unknown>));
        })
        .on("error", reject),
    );
    assert.ok((metadata.token_endpoint_auth_methods_supported as string[]).includes("tls_client_auth"));
    assert.equal(metadata.tls_client_certificate_bound_access_tokens, true);
  });
});
