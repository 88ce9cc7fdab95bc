/**
 * Interop: the connect-node client transports (gRPC over HTTP/2, gRPC-Web over HTTP/1.1, Connect over
 * HTTP/1.1 and HTTP/2), all against the one port of the real server; and the AdminService over Connect.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import { toJson } from "@bufbuild/protobuf";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { ClientSchema } from "../../gen/tessera/admin/v1/client_pb.js";
import { OAuthErrorSchema, TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "interop-connect";
/** A realm that exists only through the AdminService. */
const ADMIN_REALM = "interop-connect-admin";

function basicAuthorization(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

/** An HTTP/2 session manager the suite closes in `after`. */
function h2(baseUrl: string, sessions: Http2SessionManager[]): Http2SessionManager {
  const manager = new Http2SessionManager(baseUrl);
  sessions.push(manager);
  return manager;
}

/** The four ways a connect-node client reaches the port, as the checklist names them. */
const TRANSPORTS: [string, (baseUrl: string, sessions: Http2SessionManager[]) => Transport][] = [
  ["gRPC over HTTP/2 (createGrpcTransport)", (baseUrl, s) => createGrpcTransport({ baseUrl, sessionManager: h2(baseUrl, s) })],
  ["gRPC-Web over HTTP/1.1 (createGrpcWebTransport)", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })],
  [
    "Connect over HTTP/1.1, JSON (createConnectTransport)",
    (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  ],
  [
    "Connect over HTTP/2, binary (createConnectTransport)",
    (baseUrl, s) => createConnectTransport({ baseUrl, httpVersion: "2", sessionManager: h2(baseUrl, s) }),
  ],
];

/** Runs `promise` and returns the ConnectError it rejects with. */
async function connectErrorOf(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("connect-node transports against Tessera's single port", () => {
  let harness: TesseraHarness;
  const sessions: Http2SessionManager[] = [];
  let verify: (token: string, issuerRealm?: string) => Promise<{ payload: JWTPayload; protectedHeader: ProtectedHeaderParameters }>;
  let transports: [string, Transport][];
  let connectH1: Transport;

  before(async () => {
    harness = await startTessera();
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    connectH1 = createConnectTransport({ baseUrl: harness.baseUrl, httpVersion: "1.1" });
    const jwksByRealm = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
    verify = (token, issuerRealm = REALM) => {
      let jwks = jwksByRealm.get(issuerRealm);
      if (!jwks) {
        jwks = createRemoteJWKSet(new URL(`${harness.issuer(issuerRealm)}/protocol/openid-connect/certs`));
        jwksByRealm.set(issuerRealm, jwks);
      }
      return jwtVerify(token, jwks, { issuer: harness.issuer(issuerRealm), typ: "at+jwt" });
    };
    transports = TRANSPORTS.map(([name, make]) => [name, make(harness.baseUrl, sessions)]);
  });

  after(async () => {
    for (const manager of sessions) manager.abort();
    await harness?.stop();
  });

  describe("TokenExchangeService.ClientCredentials on every transport", () => {
    TRANSPORTS.forEach(([name], index) => {
      it(`${name} issues a verifiable at+jwt`, async () => {
        const [, transport] = transports[index];
        const client = createClient(TokenExchangeService, transport);
        const response = await client.clientCredentials(
          { realm: REALM, scope: "orders.read inventory.read" },
          { headers: { authorization: basicAuthorization("gateway", SECRETS.gateway) } },
        );
        assert.equal(response.tokenType, "Bearer");
        assert.equal(response.expiresIn, 300n);
        assert.equal(response.scope, "orders.read inventory.read");
        const { payload, protectedHeader } = await verify(response.accessToken);
        assert.equal(protectedHeader.typ, "at+jwt");
        assert.deepEqual(new Set(payload.aud), new Set(["orders-api", "inventory-api"]));
        assert.equal(payload.azp, "gateway");
        assert.equal(payload.client_id, "gateway");
        assert.equal(payload.scope, "orders.read inventory.read");
      });
    });
  });

  it("every transport sees the same wrong-secret failure: Unauthenticated with OAuthError invalid_client", async () => {
    for (const [name, transport] of transports) {
      const client = createClient(TokenExchangeService, transport);
      const error = await connectErrorOf(
        client.clientCredentials({ realm: REALM }, { headers: { authorization: basicAuthorization("gateway", "wrong") } }),
      );
      assert.equal(error.code, Code.Unauthenticated, name);
      const [detail] = error.findDetails(OAuthErrorSchema);
      assert.equal(detail?.error, "invalid_client", name);
    }
  });

  it("a failure over the Connect protocol exposes the OAuthError detail via ConnectError.findDetails", async () => {
    const client = createClient(TokenExchangeService, connectH1);
    const issued = await client.clientCredentials(
      { realm: REALM, scope: "orders.read" },
      { headers: { authorization: basicAuthorization("gateway", SECRETS.gateway) } },
    );
    const error = await connectErrorOf(
      client.exchangeToken(
        {
          realm: REALM,
          subjectToken: issued.accessToken,
          subjectTokenType: "urn:ietf:params:oauth:token-type:access_token",
          scope: "orders.read",
          audience: ["inventory-api"],
        },
        { headers: { authorization: basicAuthorization("gateway", SECRETS.gateway) } },
      ),
    );
    assert.equal(error.code, Code.InvalidArgument);
    const details = error.findDetails(OAuthErrorSchema);
    assert.equal(details.length, 1);
    assert.equal(details[0].error, "invalid_target");
    assert.match(details[0].errorDescription, /inventory-api/);
    assert.equal(error.rawMessage, details[0].errorDescription, "the message and the detail agree");
  });

  it(
    "ExchangeToken is not served as a Connect GET, which would put client_secret and subject_token in the URL",
    async () => {
      const client = createClient(TokenExchangeService, connectH1);
      const issued = await client.clientCredentials({ realm: REALM, client: { clientId: "gateway", clientSecret: SECRETS.gateway }, scope: "orders.read" });
      const message = {
        realm: REALM,
        client: { clientId: "gateway", clientSecret: SECRETS.gateway },
        subjectToken: issued.accessToken,
        subjectTokenType: "urn:ietf:params:oauth:token-type:access_token",
        scope: "orders.read",
      };
      const query = new URLSearchParams({ connect: "v1", encoding: "json", message: JSON.stringify(message) });
      const answer = await fetch(`${harness.baseUrl}/tessera.exchange.v1.TokenExchangeService/ExchangeToken?${query}`);
      await answer.body?.cancel();
      assert.equal(answer.status, 405, "token requests must be POSTs (RFC 6749 §3.2), never URLs with secrets");
    },
  );

  describe("AdminService over Connect", () => {
    let admin: Client<typeof AdminService>;
    let tokens: Client<typeof TokenExchangeService>;

    before(async () => {
      admin = (await harness.adminCaller()).admin();
      tokens = createClient(TokenExchangeService, connectH1);
    });

    it("CreateRealm creates an enabled realm with the default lifespans and algorithm filled in", async () => {
      const { realm } = await admin.createRealm({ realm: { name: ADMIN_REALM } });
      assert.equal(realm?.name, ADMIN_REALM);
      assert.equal(realm?.enabled, true);
      assert.equal(realm?.accessTokenLifespan, 300n);
      assert.equal(realm?.refreshTokenLifespan, 1800n);
      assert.equal(realm?.signingAlgorithm, "ES256");
      const fetched = await admin.getRealm({ name: ADMIN_REALM });
      assert.deepEqual(fetched.realm, realm);
    });

    it("CreateScope creates a scope", async () => {
      const { scope } = await admin.createScope({ realm: ADMIN_REALM, scope: { name: "reports.read", description: "reports" } });
      assert.equal(scope?.name, "reports.read");
      assert.deepEqual(scope?.audiences, []);
      assert.equal(scope?.description, "reports");
    });

    it("CreateClient with a secret returns the client without the secret, has_secret true", async () => {
      const { client } = await admin.createClient({
        realm: ADMIN_REALM,
        client: {
          clientId: "reporter",
          enabled: true,
          secret: "reporter-secret-1",
          serviceAccount: true,
          defaultScopes: ["reports.read"],
          tokenExchange: { enabled: true },
        },
      });
      assert.equal(client?.clientId, "reporter");
      assert.equal(client?.secret, "", "the secret is write-only");
      assert.equal(client?.hasSecret, true);
      assert.deepEqual(client?.authMethods, ["client_secret_basic", "client_secret_post"]);
      assert.ok(client?.serviceAccountUserId, "a service-account user id is assigned");
      assert.equal(client?.tokenExchange?.scopePolicy, "downscope");
      assert.equal(client?.tokenExchange?.refreshTokens, "none");
    });

    it("GetClient never returns the secret (nor its hash) and says has_secret true", async () => {
      const { client } = await admin.getClient({ realm: ADMIN_REALM, clientId: "reporter" });
      assert.equal(client?.secret, "");
      assert.equal(client?.hasSecret, true);
      assert.ok(client);
      const json = JSON.stringify(toJson(ClientSchema, client, { alwaysEmitImplicit: true }));
      assert.doesNotMatch(json, /reporter-secret|argon2|\$/, "neither the secret nor a PHC hash");
    });

    it("a client created through the admin API obtains a client-credentials token (Basic and post)", async () => {
      const basic = await tokens.clientCredentials(
        { realm: ADMIN_REALM },
        { headers: { authorization: basicAuthorization("reporter", "reporter-secret-1") } },
      );
      const { client } = await admin.getClient({ realm: ADMIN_REALM, clientId: "reporter" });
      const { payload } = await verify(basic.accessToken, ADMIN_REALM);
      assert.equal(payload.iss, harness.issuer(ADMIN_REALM));
      assert.equal(payload.sub, client?.serviceAccountUserId);
      assert.equal(payload.azp, "reporter");
      assert.equal(payload.aud, "reporter", "reports.read names no audience: the token is for the client itself");
      assert.equal(payload.scope, "reports.read");
      const post = await tokens.clientCredentials({
        realm: ADMIN_REALM,
        client: { clientId: "reporter", clientSecret: "reporter-secret-1" },
      });
      assert.equal((await verify(post.accessToken, ADMIN_REALM)).payload.azp, "reporter");
    });

    it("ListClients lists the realm's clients by client_id, secrets omitted", async () => {
      await admin.createClient({ realm: ADMIN_REALM, client: { clientId: "another", secret: "another-secret" } });
      const { clients } = await admin.listClients({ realm: ADMIN_REALM });
      assert.deepEqual(clients.map((c) => c.clientId), ["another", "reporter"]);
      assert.ok(clients.every((c) => c.secret === "" && c.hasSecret));
    });

    it("UpdateClient with an empty secret keeps the secret and applies the new settings", async () => {
      const before = await admin.getClient({ realm: ADMIN_REALM, clientId: "reporter" });
      const { client } = await admin.updateClient({
        realm: ADMIN_REALM,
        client: {
          clientId: "reporter",
          enabled: true,
          serviceAccount: true,
          defaultScopes: [],
          optionalScopes: ["reports.read"],
          tokenExchange: { enabled: true, scopePolicy: "requester" },
        },
        // An empty list is not "set": the mask names the fields to change, emptied ones included.
        updateMask: { paths: ["enabled", "service_account", "default_scopes", "optional_scopes", "token_exchange"] },
      });
      assert.equal(client?.hasSecret, true);
      assert.deepEqual(client?.optionalScopes, ["reports.read"]);
      assert.deepEqual(client?.defaultScopes, []);
      assert.equal(client?.tokenExchange?.scopePolicy, "requester");
      assert.equal(client?.serviceAccountUserId, before.client?.serviceAccountUserId, "the service-account user is stable");
      const issued = await tokens.clientCredentials(
        { realm: ADMIN_REALM },
        { headers: { authorization: basicAuthorization("reporter", "reporter-secret-1") } },
      );
      assert.equal(issued.scope, "", "no default scopes any more");
    });

    it("UpdateClient with a new secret rotates it: the old one is refused", async () => {
      await admin.updateClient({
        realm: ADMIN_REALM,
        client: { clientId: "another", enabled: true, secret: "another-secret-2" },
      });
      const old = await connectErrorOf(
        tokens.clientCredentials({ realm: ADMIN_REALM, client: { clientId: "another", clientSecret: "another-secret" } }),
      );
      assert.equal(old.code, Code.Unauthenticated);
    });

    it("DeleteClient deletes: GetClient is then NotFound and the client can no longer authenticate", async () => {
      await admin.deleteClient({ realm: ADMIN_REALM, clientId: "reporter" });
      const missing = await connectErrorOf(admin.getClient({ realm: ADMIN_REALM, clientId: "reporter" }));
      assert.equal(missing.code, Code.NotFound);
      const refused = await connectErrorOf(
        tokens.clientCredentials({ realm: ADMIN_REALM }, { headers: { authorization: basicAuthorization("reporter", "reporter-secret-1") } }),
      );
      assert.equal(refused.code, Code.Unauthenticated);
      assert.equal(refused.findDetails(OAuthErrorSchema)[0]?.error, "invalid_client");
      const again = await connectErrorOf(admin.deleteClient({ realm: ADMIN_REALM, clientId: "reporter" }));
      assert.equal(again.code, Code.NotFound);
    });

    it("GetRealm on a missing realm is NotFound", async () => {
      const error = await connectErrorOf(admin.getRealm({ name: "interop-no-such-realm" }));
      assert.equal(error.code, Code.NotFound);
      assert.match(error.rawMessage, /interop-no-such-realm/);
    });

    it("CreateClient with scope_policy \"up\" is InvalidArgument naming the field, and nothing is created", async () => {
      const error = await connectErrorOf(
        admin.createClient({
          realm: ADMIN_REALM,
          client: { clientId: "bad", enabled: true, secret: "bad-secret", tokenExchange: { enabled: true, scopePolicy: "up" } },
        }),
      );
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /client\.tokenExchange\.scopePolicy/);
      assert.match(error.rawMessage, /downscope \| requester/);
      assert.doesNotMatch(error.rawMessage, /bad-secret/);
      const missing = await connectErrorOf(admin.getClient({ realm: ADMIN_REALM, clientId: "bad" }));
      assert.equal(missing.code, Code.NotFound);
    });

    it("CreateClient naming a scope that does not exist is InvalidArgument naming the scope", async () => {
      const error = await connectErrorOf(
        admin.createClient({ realm: ADMIN_REALM, client: { clientId: "bad2", enabled: true, secret: "s", defaultScopes: ["nope"] } }),
      );
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /client\.defaultScopes/);
      assert.match(error.rawMessage, /nope/);
    });

    it("CreateRealm on an existing name is AlreadyExists", async () => {
      const error = await connectErrorOf(admin.createRealm({ realm: { name: ADMIN_REALM, enabled: true } }));
      assert.equal(error.code, Code.AlreadyExists);
    });
  });
});
