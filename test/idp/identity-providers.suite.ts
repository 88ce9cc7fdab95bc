import assert from "node:assert/strict";
import { createPublicKey, randomBytes, randomUUID, type JsonWebKey } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Client as RpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWTPayload } from "jose";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { OAuthErrorSchema, TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { MasterKeyCipher } from "../../src/crypto/master-key-cipher.js";
import {
  CLAIM_MAPPING_DEFAULTS,
  DEFAULT_PROVIDER_ALGORITHMS,
  introspectionSecretBinding,
  type IdentityProvider,
} from "../../src/domain/index.js";
import { parseRealmDocument } from "../../src/realm-file/index.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { postForm, verifyWithJwks, type TokenAnswer } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { TestClock } from "../support/test-clock.js";
import { JWT_TOKEN_TTL, PROVIDER_AUDIENCE, RESOURCES, startOidcProvider, type OidcTestProvider } from "./oidc-provider.js";
import { newIssuerKey, startIssuerServer, TEST_AUDIENCE, type EndpointMode, type IssuerServer, type TestIssuer } from "./test-issuers.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const JWT = "urn:ietf:params:oauth:token-type:jwt";
const SAML2 = "urn:ietf:params:oauth:token-type:saml2";

/** Client secrets of the realm's clients. */
const SECRETS = {
  /** May exchange tokens of every provider the suite registers, and impersonate anyone. */
  "idp-client": "idp-client-secret",
  /** May exchange tokens and impersonate, but names no identity provider. */
  partner: "partner-secret",
  "orders-api": "orders-secret",
} as const;
type ClientId = keyof typeof SECRETS;

/** The GitHub Actions condition of the `github` provider, and its name. */
const CONDITION_NAME = "main-branch-of-acme-api";
const CONDITION_EXPRESSION = "repository == 'acme/api' && ref == 'refs/heads/main'";

/** External users of the oidc-provider (client ids there). */
const OIDC_USERS = ["dana", "erin", "frank", "gina", "hank", "opaque-user", "opaque-revoked", "opaque-admin"];

/** Opens a repository on the storage under test; each call is another instance on the same storage. */
export type OpenRepository = () => Promise<RealmRepository>;

function assertError(answer: TokenAnswer, status: number, error: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error, error, JSON.stringify(answer.body));
  assert.equal(typeof answer.body.error_description, "string", JSON.stringify(answer.body));
}

/** An `alg: none` JWT (RFC 7519 §6): no signature at all. */
function unsecuredJwt(payload: JWTPayload): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(payload)}.`;
}

/** A short unique suffix. */
const unique = () => randomUUID().slice(0, 8);

/**
 * Identity providers (EXCHANGE.md kinds 4 and 5): external-to-internal exchanges of a real
 * oidc-provider's tokens and of hand-made GitHub-Actions-style tokens, user policies and the
 * first-login race, internal-to-external (broker) exchanges, provider keys (rotation, stale
 * serving, no `jku`), attacks, opaque tokens by introspection, and the AdminService CRUD, over real
 * HTTP and gRPC, for one storage adapter.
 */
export function runIdentityProvidersSuite(storage: string, openRepository: OpenRepository): void {
  describe(`identity providers on ${storage} storage`, () => {
    const clock = new TestClock();
    const masterKey = randomBytes(32);
    let tessera: TesseraHarness;
    let second: TesseraHarness;
    let oidc: OidcTestProvider;
    /** Hand-made issuers, dating their tokens by Tessera's clock. */
    let issuers: IssuerServer;
    /** A server no token may make Tessera call (`jku`, `x5u`). */
    let attacker: IssuerServer;
    let github: TestIssuer;
    let realmName: string;
    let url: string;
    let issuer: string;
    let repo: RealmRepository;
    let admin: RpcClient<typeof AdminService>;
    let rpc: RpcClient<typeof TokenExchangeService>;
    const cleanups: (() => Promise<void>)[] = [];

    const realmYaml = () => `
realm: ${realmName}
accessTokenLifespan: 300
scopes:
  - { name: orders.read, audiences: [orders-api] }
  - { name: partner.use, audiences: [partner] }
  - { name: profile }
clients:
  - clientId: idp-client
    secret: ${SECRETS["idp-client"]}
    serviceAccount: true
    defaultScopes: [profile]
    optionalScopes: [orders.read, partner.use]
    tokenExchange:
      enabled: true
      impersonation: { allUsers: true }
      identityProviders: [corp, corp-opaque, github]
  - clientId: partner
    secret: ${SECRETS.partner}
    serviceAccount: true
    defaultScopes: [profile]
    tokenExchange: { enabled: true, impersonation: { allUsers: true } }
  - clientId: orders-api
    secret: ${SECRETS["orders-api"]}
  - clientId: ci-cli
    public: true
    defaultScopes: [profile]
    tokenExchange: { enabled: true, identityProviders: [github] }
users:
  - { username: alice, email: alice@example.com }
  - { username: taken }
  - { username: existing-user, email: existing@example.com }
identityProviders:
  - alias: corp
    issuer: ${oidc.issuer}
    jwksUri: ${oidc.jwksUri}
    audiences: [tessera]
    algorithms: [ES256, RS256]
    claims:
      attributes: { department: department, groups: groups }
    storeTokens: true
    accountLinkUrl: https://corp.example/link-account
  - alias: corp-opaque
    issuer: ${oidc.issuer}
    jwksUri: ${oidc.jwksUri}
    audiences: [tessera]
    introspection:
      endpoint: ${oidc.introspectionEndpoint}
      clientId: ${oidc.introspector.clientId}
      clientSecret: ${oidc.introspector.clientSecret}
    claims: { userId: client_id }
  - alias: github
    issuer: ${github.issuer}
    jwksUri: ${github.jwksUri}
    audiences: [tessera]
    algorithms: [ES256]
    claims:
      attributes: { repository: repository, actor: actor }
    conditions:
      - name: ${CONDITION_NAME}
        expression: "${CONDITION_EXPRESSION}"
`;

    before(async () => {
      oidc = await startOidcProvider({ users: OIDC_USERS });
      issuers = await startIssuerServer(() => clock.now());
      attacker = await startIssuerServer(() => clock.now());
      github = await issuers.create("github");
      tessera = await startTessera({ repository: await openRepository(), clock, masterKey });
      // A second instance behind the same public URL, with its own connection to the same storage.
      // The tests change configuration through the first instance: the second reads it uncached.
      second = await startTessera({ repository: await openRepository(), clock, masterKey, publicUrl: tessera.baseUrl, configurationCacheTtlMs: 0 });
      repo = tessera.repository;
      realmName = `idp-${unique()}`;
      const cipher = new MasterKeyCipher(masterKey);
      const bundle = await parseRealmDocument(realmYaml(), `${realmName}.yaml`, { seal: (text, binding) => cipher.seal(text, binding) });
      await repo.importRealm(bundle);
      url = tessera.tokenUrl(realmName);
      issuer = tessera.issuer(realmName);
      admin = (await tessera.adminCaller()).admin("grpc");
      rpc = createClient(TokenExchangeService, createGrpcTransport({ baseUrl: tessera.baseUrl }));
    });
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
      for (const harness of [tessera, second]) {
        await harness?.stop();
        await harness?.repository.close();
      }
      await oidc?.close();
      await issuers?.close();
      await attacker?.close();
    });
    beforeEach(() => clock.reset());

    const basic = (clientId: ClientId): { basic: [string, string] } => ({ basic: [clientId, SECRETS[clientId]] });
    const userIdOf = async (username: string) => {
      const user = await repo.findUserByUsername(realmName, username);
      assert.ok(user, `user ${username} exists`);
      return user.id;
    };

    interface ExchangeOptions {
      clientId?: ClientId;
      /** `subject_issuer`; none when undefined. */
      alias?: string;
      type?: string;
      extra?: [string, string][];
      harness?: TesseraHarness;
    }

    /** An external-to-internal exchange (kind 4) over HTTP. */
    const exchangeExternal = (subjectToken: string, options: ExchangeOptions = {}) => {
      const { clientId = "idp-client", alias, type = ACCESS_TOKEN, extra = [], harness = tessera } = options;
      const params: [string, string][] = [
        ["grant_type", TOKEN_EXCHANGE],
        ["subject_token", subjectToken],
        ["subject_token_type", type],
        ...(alias !== undefined ? [["subject_issuer", alias] as [string, string]] : []),
        ...extra,
      ];
      return postForm(harness.tokenUrl(realmName), params, basic(clientId));
    };

    /** A successful kind-4 exchange: the answer and the verified claims of the realm token. */
    async function externalToInternal(subjectToken: string, options: ExchangeOptions = {}): Promise<{ answer: TokenAnswer; claims: JWTPayload }> {
      const answer = await exchangeExternal(subjectToken, options);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return { answer, claims: await verifyWithJwks(answer.body.access_token as string, issuer) };
    }

    /** An internal-to-external exchange (kind 5): the realm token for the stored token of `alias`. */
    const brokerExchange = (realmToken: string, alias: string, clientId: ClientId = "idp-client", extra: [string, string][] = []) =>
      postForm(
        url,
        [["grant_type", TOKEN_EXCHANGE], ["subject_token", realmToken], ["subject_token_type", ACCESS_TOKEN], ["requested_issuer", alias], ...extra],
        basic(clientId),
      );

    /** A realm access token for `userId` issued to `clientId`, by impersonation (its own 300 s lifetime). */
    async function impersonate(userId: string, clientId: ClientId = "idp-client"): Promise<string> {
      const own = await postForm(url, { grant_type: "client_credentials" }, basic(clientId));
      assert.equal(own.status, 200, JSON.stringify(own.body));
      const answer = await postForm(
        url,
        [["grant_type", TOKEN_EXCHANGE], ["subject_token", own.body.access_token as string], ["subject_token_type", ACCESS_TOKEN], ["requested_subject", userId]],
        basic(clientId),
      );
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.access_token as string;
    }

    /** Registers a provider (in storage, as an administrator would) and lets `clients` exchange its tokens. */
    async function addProvider(
      provider: Partial<IdentityProvider> & Pick<IdentityProvider, "alias" | "issuer">,
      clients: ClientId[] = ["idp-client"],
    ): Promise<IdentityProvider> {
      const full: IdentityProvider = {
        enabled: true,
        audiences: [TEST_AUDIENCE],
        algorithms: [...DEFAULT_PROVIDER_ALGORITHMS],
        claims: { ...CLAIM_MAPPING_DEFAULTS, attributes: {} },
        conditions: [],
        userPolicy: "create",
        storeTokens: false,
        ...provider,
      };
      await repo.createIdentityProvider(realmName, full);
      await allowProvider(full.alias, clients);
      return full;
    }

    async function allowProvider(alias: string, clients: ClientId[]): Promise<void> {
      for (const clientId of clients) {
        const client = await repo.getClient(realmName, clientId);
        assert.ok(client);
        await repo.updateClient(realmName, {
          ...client,
          tokenExchange: { ...client.tokenExchange, identityProviders: [...client.tokenExchange.identityProviders, alias] },
        });
      }
    }

    /** A new hand-made issuer registered as a provider of the same name. */
    async function issuerProvider(
      name: string,
      provider: Partial<IdentityProvider> = {},
      mode: EndpointMode = "ok",
    ): Promise<{ source: TestIssuer; provider: IdentityProvider }> {
      const source = await issuers.create(name, { mode });
      return { source, provider: await addProvider({ alias: name, issuer: source.issuer, jwksUri: source.jwksUri, ...provider }) };
    }

    /** A dedicated oidc-provider (key rotation and outages must not disturb the shared one). */
    async function dedicatedOidcProvider(): Promise<{ provider: OidcTestProvider; alias: string; user: string }> {
      const user = `rotator-${unique()}`;
      const provider = await startOidcProvider({ users: [user] });
      cleanups.push(() => provider.close());
      const alias = `op-${unique()}`;
      await addProvider({ alias, issuer: provider.issuer, jwksUri: provider.jwksUri });
      return { provider, alias, user };
    }

    const keyHealthOf = async (alias: string) => {
      const { identityProvider } = await admin.getIdentityProvider({ realm: realmName, alias });
      assert.ok(identityProvider?.keyHealth);
      return identityProvider.keyHealth;
    };

    describe("external to internal (kind 4)", () => {
      it("a provider access token with subject_issuer then a realm token for the created user: realm JWKS, sub, sid, session, requester's scope", async () => {
        const upstream = await oidc.token("dana");
        const { answer, claims } = await externalToInternal(upstream, { alias: "corp" });
        assert.equal(answer.body.issued_token_type, ACCESS_TOKEN);
        assert.equal(answer.body.token_type, "Bearer");
        assert.equal(answer.body.scope, "profile");
        const link = await repo.findLink(realmName, "corp", "dana");
        assert.ok(link, "the external user is linked");
        assert.equal(claims.sub, link.userId);
        assert.equal(claims.iss, issuer);
        assert.equal(claims.azp, "idp-client");
        assert.equal(claims.client_id, "idp-client");
        assert.equal(claims.scope, "profile");
        assert.equal(claims.aud, "idp-client");
        assert.equal(claims.act, undefined);
        assert.ok((claims.exp ?? 0) <= (decodeJwt(upstream).exp ?? 0), "never outlives the provider's token");
        assert.equal(typeof claims.sid, "string");
        const session = await repo.getSession(realmName, claims.sid as string);
        assert.equal(session?.userId, link.userId);
        assert.equal(session?.clientId, "idp-client");
        const user = await repo.getUser(realmName, link.userId);
        assert.equal(user?.username, "dana");
        assert.equal(user?.email, "dana@corp.example");
        assert.equal(user?.enabled, true);
        assert.deepEqual(user?.attributes, { department: ["engineering"], groups: ["staff", "oncall"] });
      });

      it("no subject_issuer then the provider is found by the token's iss: the same user, a new session", async () => {
        const first = await externalToInternal(await oidc.token("erin"), { alias: "corp" });
        const again = await externalToInternal(await oidc.token("erin"));
        assert.equal(again.claims.sub, first.claims.sub);
        assert.notEqual(again.claims.sid, first.claims.sid);
        assert.equal((await repo.findLink(realmName, "corp", "erin"))?.userId, first.claims.sub);
      });

      it("subject_token_type id_token or jwt then accepted as well", async () => {
        const userId = (await externalToInternal(await oidc.token("erin"), { alias: "corp" })).claims.sub;
        for (const type of [ID_TOKEN, JWT]) {
          const { claims } = await externalToInternal(await oidc.token("erin"), { alias: "corp", type });
          assert.equal(claims.sub, userId, type);
        }
      });

      it("scope naming a scope with an audience then that audience: the requester's scopes apply, not the provider's", async () => {
        const { answer, claims } = await externalToInternal(await oidc.token("erin"), { alias: "corp", extra: [["scope", "orders.read"]] });
        assert.equal(answer.body.scope, "orders.read");
        assert.equal(claims.aud, "orders-api");
        assertError(await exchangeExternal(await oidc.token("erin"), { alias: "corp", extra: [["scope", "api"]] }), 400, "invalid_scope");
      });

      it("a scope or audience the requester may not have then refused before any user or link is made", async () => {
        const { source, provider } = await issuerProvider(`scope-${unique()}`);
        const username = `scoped-${unique()}`;
        const token = await source.sign({ sub: "ext-scoped", preferred_username: username });
        assertError(await exchangeExternal(token, { alias: provider.alias, extra: [["scope", "not-a-scope"]] }), 400, "invalid_scope");
        assertError(await exchangeExternal(token, { alias: provider.alias, extra: [["audience", "orders-api"]] }), 400, "invalid_target");
        assert.equal(await repo.findLink(realmName, provider.alias, "ext-scoped"), undefined);
        assert.equal(await repo.findUserByUsername(realmName, username), undefined);
      });

      it("an unsupported subject_token_type then invalid_request", async () => {
        assertError(await exchangeExternal(await oidc.token("erin"), { alias: "corp", type: SAML2 }), 400, "invalid_request");
      });

      it("a subject_issuer the client names but that is disabled or gone then invalid_request", async () => {
        const off = `off-${unique()}`;
        await addProvider({ alias: off, issuer: oidc.issuer, jwksUri: oidc.jwksUri, enabled: false });
        assertError(await exchangeExternal(await oidc.token("erin"), { alias: off }), 400, "invalid_request");
        const gone = `gone-${unique()}`;
        await addProvider({ alias: gone, issuer: oidc.issuer, jwksUri: oidc.jwksUri });
        assert.equal(await repo.deleteIdentityProvider(realmName, gone), true);
        assertError(await exchangeExternal(await oidc.token("erin"), { alias: gone }), 400, "invalid_request");
      });

      it("a subject_issuer the client does not name, known or not, then unauthorized_client (nothing learnt about the realm's providers)", async () => {
        const known = await exchangeExternal(await oidc.token("erin"), { clientId: "partner", alias: "corp" });
        const unknown = await exchangeExternal(await oidc.token("erin"), { clientId: "partner", alias: "nope" });
        assertError(known, 400, "unauthorized_client");
        assertError(await exchangeExternal(await oidc.token("erin"), { alias: "nope" }), 400, "unauthorized_client");
        assertError(unknown, 400, "unauthorized_client");
        assert.equal(
          (known.body.error_description as string).replace("corp", "ALIAS"),
          (unknown.body.error_description as string).replace("nope", "ALIAS"),
          "the same answer for a provider that exists and one that does not",
        );
      });

      it("a JWT of an issuer that is no provider of the realm, without subject_issuer, then invalid_request", async () => {
        const stranger = await issuers.create(`stranger-${unique()}`);
        assertError(await exchangeExternal(await stranger.sign({ sub: "someone" })), 400, "invalid_request");
      });

      it("requested_subject with a provider's token then invalid_request; actor_token then unauthorized_client (no delegation)", async () => {
        const own = await postForm(url, { grant_type: "client_credentials" }, basic("idp-client"));
        const upstream = await oidc.token("erin");
        assertError(await exchangeExternal(upstream, { alias: "corp", extra: [["requested_subject", "alice"]] }), 400, "invalid_request");
        const withActor = await exchangeExternal(upstream, {
          alias: "corp",
          extra: [["actor_token", own.body.access_token as string], ["actor_token_type", ACCESS_TOKEN]],
        });
        // idp-client may not delegate at all: that permission is checked first.
        assertError(withActor, 400, "unauthorized_client");
      });

      it("a provider configured by issuer alone then its keys are found through its OpenID discovery document", async () => {
        const { source, provider } = await issuerProvider(`disco-${unique()}`, { jwksUri: undefined });
        assert.equal(provider.jwksUri, undefined);
        const { claims } = await externalToInternal(await source.sign({ sub: "disco-user", preferred_username: `disco-${unique()}` }), {
          alias: provider.alias,
        });
        assert.equal((await repo.findLink(realmName, provider.alias, "disco-user"))?.userId, claims.sub);
        assert.deepEqual(source.requests, ["/.well-known/openid-configuration", "/jwks"]);
      });

      it("a discovery document naming another issuer then temporarily_unavailable, and no keys are fetched", async () => {
        const { source, provider } = await issuerProvider(`disco-${unique()}`, { jwksUri: undefined }, "wrong-discovery");
        assertError(await exchangeExternal(await source.sign({ sub: "x" }), { alias: provider.alias }), 503, "temporarily_unavailable");
        assert.deepEqual(source.requests, ["/.well-known/openid-configuration"]);
      });

      it("mapped attributes are copied again at each exchange", async () => {
        const { source, provider } = await issuerProvider(`attrs-${unique()}`, {
          claims: { ...CLAIM_MAPPING_DEFAULTS, attributes: { department: "dept", level: "level" } },
        });
        const username = `attrs-${unique()}`;
        const { claims } = await externalToInternal(await source.sign({ sub: "a1", preferred_username: username, dept: "sales", level: 3 }), {
          alias: provider.alias,
        });
        assert.deepEqual((await repo.getUser(realmName, claims.sub as string))?.attributes, { department: ["sales"], level: ["3"] });
        await externalToInternal(await source.sign({ sub: "a1", preferred_username: username, dept: "support", level: 3 }), { alias: provider.alias });
        assert.deepEqual((await repo.getUser(realmName, claims.sub as string))?.attributes, { department: ["support"], level: ["3"] });
      });

      it("over gRPC with subject_issuer then the same user; an unreachable provider then UNAVAILABLE with the OAuth detail", async () => {
        const http = await externalToInternal(await oidc.token("erin"), { alias: "corp" });
        const answer = await rpc.exchangeToken({
          realm: realmName,
          client: { clientId: "idp-client", clientSecret: SECRETS["idp-client"] },
          subjectToken: await oidc.token("erin"),
          subjectTokenType: ACCESS_TOKEN,
          subjectIssuer: "corp",
        });
        assert.equal(answer.issuedTokenType, ACCESS_TOKEN);
        assert.equal((await verifyWithJwks(answer.accessToken, issuer)).sub, http.claims.sub);

        const { source, provider } = await issuerProvider(`down-${unique()}`, {}, "error");
        const failure = await rpc
          .exchangeToken({
            realm: realmName,
            client: { clientId: "idp-client", clientSecret: SECRETS["idp-client"] },
            subjectToken: await source.sign({ sub: "x" }),
            subjectTokenType: ACCESS_TOKEN,
            subjectIssuer: provider.alias,
          })
          .then(
            () => assert.fail("a token of an unreachable provider was accepted"),
            (e: unknown) => ConnectError.from(e),
          );
        assert.equal(failure.code, Code.Unavailable);
        assert.equal(failure.findDetails(OAuthErrorSchema)[0]?.error, "temporarily_unavailable");
      });

      it("the second instance accepts the same provider's tokens for the same user", async () => {
        const first = await externalToInternal(await oidc.token("erin"), { alias: "corp" });
        const other = await externalToInternal(await oidc.token("erin"), { alias: "corp", harness: second });
        assert.equal(other.claims.sub, first.claims.sub);
      });
    });

    describe("claim rules", () => {
      it("a userId claim other than sub then the link is keyed by that claim", async () => {
        const { source, provider } = await issuerProvider(`oid-${unique()}`, { claims: { ...CLAIM_MAPPING_DEFAULTS, userId: "oid", attributes: {} } });
        const oid = randomUUID();
        const username = `oid-${unique()}`;
        const first = await externalToInternal(await source.sign({ sub: "pairwise-1", oid, preferred_username: username }), { alias: provider.alias });
        const other = await externalToInternal(await source.sign({ sub: "pairwise-2", oid, preferred_username: username }), { alias: provider.alias });
        assert.equal(other.claims.sub, first.claims.sub);
        assert.equal((await repo.findLink(realmName, provider.alias, oid))?.userId, first.claims.sub);
        assert.equal(await repo.findLink(realmName, provider.alias, "pairwise-1"), undefined);
        const missing = await exchangeExternal(await source.sign({ sub: "pairwise-3" }), { alias: provider.alias });
        assertError(missing, 400, "invalid_request");
        assert.match(missing.body.error_description as string, /oid/);
      });

      /** A GitHub Actions OIDC token (https://docs.github.com/actions/deployment/security-hardening-your-deployments). */
      const githubToken = (claims: JWTPayload = {}) =>
        github.sign({
          sub: "repo:acme/api:ref:refs/heads/main",
          repository: "acme/api",
          repository_owner: "acme",
          ref: "refs/heads/main",
          actor: "octocat",
          workflow: "deploy",
          ...claims,
        });

      it("a GitHub Actions token meeting the CEL condition then accepted, with attributes copied", async () => {
        const { claims } = await externalToInternal(await githubToken(), { alias: "github", type: JWT });
        const link = await repo.findLink(realmName, "github", "repo:acme/api:ref:refs/heads/main");
        assert.equal(link?.userId, claims.sub);
        const user = await repo.getUser(realmName, claims.sub as string);
        assert.equal(user?.username, "github.repo:acme/api:ref:refs/heads/main", "no preferred_username: {alias}.{external id}");
        assert.deepEqual(user?.attributes, { repository: ["acme/api"], actor: ["octocat"] });
        // Found by iss too.
        assert.equal((await externalToInternal(await githubToken(), { type: JWT })).claims.sub, claims.sub);
      });

      it("a public client exchanges a provider's token only when it was issued to or for it (azp, client_id or aud)", async () => {
        const asPublicClient = (token: string) =>
          postForm(url, { grant_type: TOKEN_EXCHANGE, client_id: "ci-cli", subject_token: token, subject_token_type: JWT, subject_issuer: "github" });
        const sub = (name: string) => `repo:acme/api:ref:refs/heads/main:${name}-${unique()}`;
        // Another application's token: refused before any user or link is made.
        const stolenSub = sub("stolen");
        const stolen = await asPublicClient(await githubToken({ sub: stolenSub }));
        assertError(stolen, 400, "invalid_request");
        assert.equal(stolen.body.error_description, "subject_token was not issued to or for this public client");
        assert.equal(await repo.findLink(realmName, "github", stolenSub), undefined);
        // The same provider's tokens naming the public client are exchanged.
        for (const claims of [{ aud: [TEST_AUDIENCE, "ci-cli"] }, { azp: "ci-cli" }, { client_id: "ci-cli" }]) {
          const answer = await asPublicClient(await githubToken({ sub: sub("own"), ...claims }));
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          assert.equal((await verifyWithJwks(answer.body.access_token as string, issuer)).azp, "ci-cli");
        }
        // A confidential client authenticates itself: the provider's audience is enough (the other side of the rule).
        assert.equal((await exchangeExternal(await githubToken({ sub: sub("confidential") }), { alias: "github", type: JWT })).status, 200);
      });

      it("a token failing the CEL condition then invalid_request naming the condition, never its expression", async () => {
        const failing = [
          await githubToken({ sub: "repo:acme/api:ref:refs/heads/feature", ref: "refs/heads/feature" }),
          await githubToken({ sub: "repo:evil/api:ref:refs/heads/main", repository: "evil/api" }),
          await githubToken({ sub: "repo:acme/api:ref:refs/heads/main", ref: undefined }),
        ];
        for (const token of failing) {
          const answer = await exchangeExternal(token, { alias: "github", type: JWT });
          assertError(answer, 400, "invalid_request");
          const description = answer.body.error_description as string;
          assert.ok(description.includes(CONDITION_NAME), description);
          assert.ok(!description.includes(CONDITION_EXPRESSION) && !description.includes("==") && !description.includes("acme/api"), description);
        }
        assert.equal(await repo.findLink(realmName, "github", "repo:acme/api:ref:refs/heads/feature"), undefined);
        assert.equal(await repo.findLink(realmName, "github", "repo:evil/api:ref:refs/heads/main"), undefined);
      });
    });

    describe("user policies", () => {
      it("create: first sight creates the user and the link", async () => {
        const { source, provider } = await issuerProvider(`create-${unique()}`, { userPolicy: "create" });
        const username = `newbie-${unique()}`;
        const { claims } = await externalToInternal(await source.sign({ sub: "ext-1", preferred_username: username, email: `${username}@x.example` }), {
          alias: provider.alias,
        });
        assert.equal(claims.sub, await userIdOf(username));
        assert.equal((await repo.findLinkOfUser(realmName, provider.alias, claims.sub as string))?.externalUserId, "ext-1");
        assert.equal((await repo.getUser(realmName, claims.sub as string))?.email, `${username}@x.example`);
      });

      it("create: an existing unlinked user of the same username then invalid_request, and nothing is linked", async () => {
        const { source, provider } = await issuerProvider(`create-${unique()}`, { userPolicy: "create" });
        const answer = await exchangeExternal(await source.sign({ sub: "ext-taken", preferred_username: "taken" }), { alias: provider.alias });
        assertError(answer, 400, "invalid_request");
        assert.equal(await repo.findLink(realmName, provider.alias, "ext-taken"), undefined);
        assert.deepEqual(await repo.listLinksOfUser(realmName, await userIdOf("taken")), []);
      });

      it("link-existing: an unlinked external user then invalid_request and no user is created; a linked one then its user", async () => {
        const { source, provider } = await issuerProvider(`link-${unique()}`, { userPolicy: "link-existing" });
        const username = `ghost-${unique()}`;
        assertError(await exchangeExternal(await source.sign({ sub: "ext-ghost", preferred_username: username }), { alias: provider.alias }), 400, "invalid_request");
        assert.equal(await repo.findUserByUsername(realmName, username), undefined);
        assert.equal(await repo.findLink(realmName, provider.alias, "ext-ghost"), undefined);

        const alice = await userIdOf("alice");
        await repo.createLink(realmName, { alias: provider.alias, externalUserId: "ext-alice", userId: alice, createdAt: new Date() });
        const { claims } = await externalToInternal(await source.sign({ sub: "ext-alice", preferred_username: "whatever" }), { alias: provider.alias });
        assert.equal(claims.sub, alice);
      });

      it("create-if-absent: a user of that username is linked; an unknown one is created", async () => {
        const { source, provider } = await issuerProvider(`absent-${unique()}`, { userPolicy: "create-if-absent" });
        const existing = await userIdOf("existing-user");
        const { claims } = await externalToInternal(await source.sign({ sub: "ext-existing", preferred_username: "existing-user" }), { alias: provider.alias });
        assert.equal(claims.sub, existing);
        assert.equal((await repo.findLink(realmName, provider.alias, "ext-existing"))?.userId, existing);
        assert.equal((await repo.getUser(realmName, existing))?.email, "existing@example.com", "the existing user is kept");

        const username = `fresh-${unique()}`;
        const created = await externalToInternal(await source.sign({ sub: "ext-fresh", preferred_username: username }), { alias: provider.alias });
        assert.equal(created.claims.sub, await userIdOf(username));
      });

      for (const policy of ["create", "create-if-absent"] as const) {
        it(`${policy}: ten concurrent first exchanges of one external user on two instances then one user and one link`, async () => {
          const { source, provider } = await issuerProvider(`race-${unique()}`, { userPolicy: policy });
          // Both instances fetch the provider's keys first: this race is about users, not keys.
          for (const harness of [tessera, second]) {
            await externalToInternal(await source.sign({ sub: `warm-${unique()}`, preferred_username: `warm-${unique()}` }), { alias: provider.alias, harness });
          }
          const username = `racer-${unique()}`;
          const tokens = await Promise.all(Array.from({ length: 10 }, () => source.sign({ sub: "ext-racer", preferred_username: username })));
          const answers = await Promise.all(tokens.map((token, i) => exchangeExternal(token, { alias: provider.alias, harness: i % 2 ? second : tessera })));
          for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
          const subs = new Set(answers.map((answer) => decodeJwt(answer.body.access_token as string).sub));
          const userId = await userIdOf(username);
          assert.deepEqual([...subs], [userId]);
          const link = await repo.findLink(realmName, provider.alias, "ext-racer");
          assert.equal(link?.userId, userId);
          assert.deepEqual((await repo.listLinksOfUser(realmName, userId)).map((l) => l.alias), [provider.alias]);
        });
      }
    });

    describe("permissions", () => {
      it("a client whose identityProviders does not name the alias then unauthorized_client, with or without subject_issuer", async () => {
        const upstream = await oidc.token("gina");
        assertError(await exchangeExternal(upstream, { clientId: "partner", alias: "corp" }), 400, "unauthorized_client");
        assertError(await exchangeExternal(upstream, { clientId: "partner" }), 400, "unauthorized_client");
        assert.equal(await repo.findLink(realmName, "corp", "gina"), undefined, "refused before any user is made");
      });

      it("requested_issuer by a client that does not name the alias then unauthorized_client", async () => {
        const { claims } = await externalToInternal(await oidc.token("gina"), { alias: "corp" });
        const partnerToken = await impersonate(claims.sub as string, "partner");
        assertError(await brokerExchange(partnerToken, "corp", "partner"), 400, "unauthorized_client");
        // A realm token for partner (audience) from the permitted client does not help either.
        const forPartner = await externalToInternal(await oidc.token("gina"), { alias: "corp", extra: [["scope", "partner.use"]] });
        assert.equal(forPartner.claims.aud, "partner");
        assertError(await brokerExchange(forPartner.answer.body.access_token as string, "corp", "partner"), 400, "unauthorized_client");
      });
    });

    describe("internal to external (kind 5, broker)", () => {
      it("requested_issuer after an external-to-internal exchange then the original upstream token, byte for byte", async () => {
        const upstream = await oidc.token("frank");
        const { answer } = await externalToInternal(upstream, { alias: "corp" });
        const brokered = await brokerExchange(answer.body.access_token as string, "corp");
        assert.equal(brokered.status, 200, JSON.stringify(brokered.body));
        assert.equal(brokered.body.access_token, upstream);
        assert.equal(brokered.body.issued_token_type, ACCESS_TOKEN);
        assert.equal(brokered.body.token_type, "Bearer");
        const left = (decodeJwt(upstream).exp ?? 0) - Math.floor(Date.now() / 1000);
        assert.ok(Math.abs((brokered.body.expires_in as number) - left) <= 5, `expires_in ${brokered.body.expires_in}, ${left} left`);
        assert.equal(brokered.headers.get("cache-control"), "no-store");
      });

      it("a stored token of type jwt then issued_token_type jwt and token_type N_A; another requested_token_type then invalid_request", async () => {
        const upstream = await oidc.token("hank");
        const { answer } = await externalToInternal(upstream, { alias: "corp", type: JWT });
        const realmToken = answer.body.access_token as string;
        const brokered = await brokerExchange(realmToken, "corp");
        assert.equal(brokered.status, 200, JSON.stringify(brokered.body));
        assert.equal(brokered.body.access_token, upstream);
        assert.equal(brokered.body.issued_token_type, JWT);
        assert.equal(brokered.body.token_type, "N_A");
        assertError(await brokerExchange(realmToken, "corp", "idp-client", [["requested_token_type", ACCESS_TOKEN]]), 400, "invalid_request");
      });

      it("the stored token is encrypted at rest: a compact JWE bound to the link, without the token in it", async () => {
        const upstream = await oidc.token("frank");
        const { claims } = await externalToInternal(upstream, { alias: "corp" });
        const link = await repo.findLinkOfUser(realmName, "corp", claims.sub as string);
        const stored = link?.storedToken;
        assert.ok(stored, "the link holds the token");
        assert.equal(stored.tokenType, ACCESS_TOKEN);
        assert.equal(stored.expiresAt?.getTime(), (decodeJwt(upstream).exp ?? 0) * 1000);
        const parts = stored.encryptedToken.split(".");
        assert.equal(parts.length, 5, "compact JWE");
        const header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8")) as Record<string, unknown>;
        assert.equal(header.alg, "dir");
        assert.equal(header.enc, "A256GCM");
        for (const piece of upstream.split(".")) assert.ok(!stored.encryptedToken.includes(piece), "no part of the token is stored in the clear");
        assert.equal(await new MasterKeyCipher(masterKey).open(stored.encryptedToken, `${realmName}/idp/corp/user/${claims.sub}`), upstream);
      });

      it("a user without a link then 400 not_linked with the provider's account-link-url", async () => {
        const answer = await brokerExchange(await impersonate(await userIdOf("alice")), "corp");
        assertError(answer, 400, "not_linked");
        assert.equal(answer.body["account-link-url"], "https://corp.example/link-account");
      });

      it("a user without a link over gRPC then FAILED_PRECONDITION with the OAuth detail's account_link_url", async () => {
        const subjectToken = await impersonate(await userIdOf("alice"));
        const failure = await rpc
          .exchangeToken({
            realm: realmName,
            client: { clientId: "idp-client", clientSecret: SECRETS["idp-client"] },
            subjectToken,
            subjectTokenType: ACCESS_TOKEN,
            requestedIssuer: "corp",
          })
          .then(
            () => assert.fail("an unlinked user got a token"),
            (e: unknown) => ConnectError.from(e),
          );
        assert.equal(failure.code, Code.FailedPrecondition);
        const detail = failure.findDetails(OAuthErrorSchema)[0];
        assert.equal(detail?.error, "not_linked");
        assert.equal(detail?.accountLinkUrl, "https://corp.example/link-account");
      });

      it("a provider without an account-link URL then not_linked without account-link-url", async () => {
        const answer = await brokerExchange(await impersonate(await userIdOf("alice")), "github");
        assertError(answer, 400, "not_linked");
        assert.equal(answer.body["account-link-url"], undefined);
      });

      it("a provider that does not store tokens then invalid_request", async () => {
        const { answer } = await externalToInternal(await github.sign({ sub: "repo:acme/api:ref:refs/heads/main", repository: "acme/api", ref: "refs/heads/main" }), {
          alias: "github",
        });
        assertError(await brokerExchange(answer.body.access_token as string, "github"), 400, "invalid_request");
      });

      it("a requested_issuer the client does not name then unauthorized_client; one it names that is gone then invalid_request", async () => {
        const realmToken = await impersonate(await userIdOf("alice"));
        assertError(await brokerExchange(realmToken, "nope"), 400, "unauthorized_client");
        const gone = `gone-${unique()}`;
        await addProvider({ alias: gone, issuer: oidc.issuer, jwksUri: oidc.jwksUri, storeTokens: true });
        await repo.deleteIdentityProvider(realmName, gone);
        assertError(await brokerExchange(realmToken, gone), 400, "invalid_request");
      });

      it("an expired stored token then invalid_request saying so", async () => {
        const { source, provider } = await issuerProvider(`short-${unique()}`, { storeTokens: true });
        const upstream = await source.sign({ sub: "short-lived", preferred_username: `short-${unique()}` }, { lifetime: 60 });
        const { claims } = await externalToInternal(upstream, { alias: provider.alias });
        // An impersonation token outlives the upstream token (an exchanged one would not).
        const realmToken = await impersonate(claims.sub as string);
        const fresh = await brokerExchange(realmToken, provider.alias);
        assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
        assert.equal(fresh.body.access_token, upstream);
        clock.advance(90);
        const expired = await brokerExchange(realmToken, provider.alias);
        assertError(expired, 400, "invalid_request");
        assert.match(expired.body.error_description as string, /expired/);
        assert.ok(!(expired.body.error_description as string).includes(upstream));
      });
    });

    describe("provider keys", () => {
      it("a rotated key (new kid) then refused as unknown within the cool-down, refetched and accepted after it", async () => {
        const { provider, alias, user } = await dedicatedOidcProvider();
        const before = await provider.token(user);
        await externalToInternal(before, { alias });
        const oldKid = provider.kids()[0];
        const newKid = await provider.rotateKey();
        const rotated = await provider.token(user);
        assert.equal(decodeProtectedHeader(rotated).kid, newKid);
        // At most one fetch per cool-down (30 s), unknown kids included.
        const early = await exchangeExternal(rotated, { alias });
        assertError(early, 400, "invalid_request");
        assert.match(early.body.error_description as string, /unknown key/);
        clock.advance(31);
        await externalToInternal(rotated, { alias });
        await externalToInternal(before, { alias });
        assert.equal(provider.requests.filter((r) => r === "GET /jwks").length, 2);
        const health = await keyHealthOf(alias);
        assert.deepEqual([...health.keyIds].sort(), [oldKid, newKid].sort());
        assert.ok(health.lastSuccess);
        assert.equal(health.lastError, "");
      });

      it("a stopped provider then cached keys still verify (stale), key_health shows the failure; past the stale window temporarily_unavailable; back up then recovered", async () => {
        const { provider, alias, user } = await dedicatedOidcProvider();
        const token = await provider.token(user);
        await externalToInternal(token, { alias });
        const healthy = await keyHealthOf(alias);
        assert.ok(healthy.lastSuccess);
        assert.deepEqual(healthy.keyIds, provider.kids());
        assert.equal(healthy.lastError, "");

        await provider.stop();
        clock.advance(700); // keys older than their 10-minute max age: refetched, and the fetch fails
        await externalToInternal(token, { alias });
        const failing = await keyHealthOf(alias);
        assert.notEqual(failing.lastError, "");
        assert.ok(failing.lastErrorAt);
        assert.equal(failing.lastSuccess && timestampDate(failing.lastSuccess).getTime(), healthy.lastSuccess && timestampDate(healthy.lastSuccess).getTime());
        assert.deepEqual(failing.keyIds, provider.kids());

        clock.advance(3600); // past the one-hour stale window
        const unavailable = await exchangeExternal(token, { alias });
        assertError(unavailable, 503, "temporarily_unavailable");
        assert.match(unavailable.headers.get("content-type") ?? "", /application\/json/);

        await provider.start();
        clock.advance(31);
        await externalToInternal(token, { alias });
        const recovered = await keyHealthOf(alias);
        assert.ok(recovered.lastSuccess && healthy.lastSuccess && timestampDate(recovered.lastSuccess) > timestampDate(healthy.lastSuccess));
      });

      it("an unknown kid while the provider is down then invalid_request within the cool-down, temporarily_unavailable after it (the provider cannot be asked)", async () => {
        const { provider, alias, user } = await dedicatedOidcProvider();
        await externalToInternal(await provider.token(user), { alias });
        await provider.stop();
        const stranger = await newIssuerKey("never-published");
        const forged = () =>
          new SignJWT({ sub: user, aud: "tessera", iss: provider.issuer, scope: "api", client_id: user })
            .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: stranger.kid })
            .setIssuedAt(clock.now())
            .setExpirationTime(new Date(clock.now().getTime() + 600_000))
            .sign(stranger.privateKey);
        const early = await exchangeExternal(await forged(), { alias });
        assertError(early, 400, "invalid_request");
        clock.advance(31);
        assertError(await exchangeExternal(await forged(), { alias }), 503, "temporarily_unavailable");
        // A known kid is still served from the cache meanwhile.
        await externalToInternal(await signedLike(provider, user), { alias });
      });

      it("a provider JWKS that hangs beyond the fetch timeout then temporarily_unavailable within about 6 s", async () => {
        const { source, provider } = await issuerProvider(`slow-${unique()}`, {}, "hang");
        const started = Date.now();
        const answer = await exchangeExternal(await source.sign({ sub: "slow" }), { alias: provider.alias });
        const took = Date.now() - started;
        assertError(answer, 503, "temporarily_unavailable");
        assert.ok(took < 6500, `took ${took} ms`);
        assert.ok(!(answer.body.error_description as string).includes(source.jwksUri), "no URL of the provider in the answer");
      });

      it(
        "concurrent first exchanges of a provider whose keys are not fetched yet then all share the one fetch (no 503)",
        async () => {
          const { source, provider } = await issuerProvider(`burst-${unique()}`);
          const tokens = await Promise.all(Array.from({ length: 5 }, (_, i) => source.sign({ sub: `burst-${i}`, preferred_username: `burst-${i}-${provider.alias}` })));
          const answers = await Promise.all(tokens.map((token) => exchangeExternal(token, { alias: provider.alias })));
          assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200], JSON.stringify(answers.map((a) => a.body.error_description)));
          assert.equal(source.requests.filter((r) => r === "/jwks").length, 1);
        },
      );

      for (const mode of ["garbage", "not-jwks", "error"] as const) {
        it(`a provider JWKS answering ${mode} then 503 temporarily_unavailable with an OAuth JSON body`, async () => {
          const { source, provider } = await issuerProvider(`${mode}-${unique()}`, {}, mode);
          const answer = await exchangeExternal(await source.sign({ sub: "x" }), { alias: provider.alias });
          assertError(answer, 503, "temporarily_unavailable");
          assert.match(answer.headers.get("content-type") ?? "", /application\/json/);
          assert.deepEqual(Object.keys(answer.body).sort(), ["error", "error_description"]);
          const health = await keyHealthOf(provider.alias);
          assert.notEqual(health.lastError, "");
          assert.deepEqual(health.keyIds, []);
        });
      }
    });

    describe("attacks on the external token (each invalid_request, never 500)", () => {
      let source: TestIssuer;
      let alias: string;
      let evil: TestIssuer;

      before(async () => {
        ({ source, provider: { alias } } = await issuerProvider(`attack-${unique()}`));
        evil = await attacker.create("evil");
      });

      const claims = (extra: JWTPayload = {}): JWTPayload => ({ sub: "victim", preferred_username: `victim-${alias}`, ...extra });

      async function refused(token: string, reason?: RegExp, options: ExchangeOptions = {}): Promise<void> {
        const answer = await exchangeExternal(token, { alias, ...options });
        assertError(answer, 400, "invalid_request");
        const description = answer.body.error_description as string;
        if (reason) assert.match(description, reason);
        for (const piece of token.split(".")) if (piece.length > 16) assert.ok(!description.includes(piece), "the token is not echoed");
      }

      it("a well-formed token of the provider then accepted (the baseline)", async () => {
        await externalToInternal(await source.sign(claims()), { alias });
      });

      it("a token signed by another key under the provider's kid", async () => {
        const impostor = await newIssuerKey(source.signingKey().kid);
        await refused(await source.sign(claims(), { key: impostor }), /signature/);
      });

      it("alg none", async () => {
        const now = Math.floor(clock.now().getTime() / 1000);
        await refused(unsecuredJwt({ iss: source.issuer, aud: TEST_AUDIENCE, iat: now, exp: now + 600, ...claims() }));
        await refused(unsecuredJwt({ iss: source.issuer, aud: TEST_AUDIENCE, iat: now, exp: now + 600, ...claims() }), undefined, { alias: undefined });
      });

      it("HS256 signed with the provider's public key as the HMAC secret", async () => {
        const now = Math.floor(clock.now().getTime() / 1000);
        const { publicJwk } = source.signingKey();
        const payload = { iss: source.issuer, aud: TEST_AUDIENCE, iat: now, exp: now + 600, ...claims() };
        const publicKey = createPublicKey({ key: publicJwk as JsonWebKey, format: "jwk" });
        const pem = publicKey.export({ type: "spki", format: "pem" }) as string;
        const der = publicKey.export({ type: "spki", format: "der" });
        for (const secret of [JSON.stringify(publicJwk), pem, der]) {
          const token = await new SignJWT(payload)
            .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: publicJwk.kid })
            .sign(typeof secret === "string" ? new TextEncoder().encode(secret) : new Uint8Array(secret));
          await refused(token, /algorithm/);
        }
      });

      it("a wrong iss with subject_issuer", async () => {
        await refused(await source.sign(claims({ iss: "https://evil.example" })), /issuer/);
      });

      it("a wrong aud", async () => {
        await refused(await source.sign(claims({ aud: "someone-else" })), /audience/);
        await refused(await source.sign(claims({ aud: [] })));
      });

      it("expired beyond the leeway, or no exp at all", async () => {
        const now = Math.floor(clock.now().getTime() / 1000);
        await refused(await source.sign(claims({ iat: now - 720, exp: now - 120 })), /expired/);
        await refused(await source.sign(claims({ exp: undefined })));
      });

      it("not yet valid: nbf in the future beyond the leeway", async () => {
        const now = Math.floor(clock.now().getTime() / 1000);
        await refused(await source.sign(claims({ nbf: now + 300 })), /not yet valid/);
      });

      it("too old: iat older than the provider's maxTokenAge", async () => {
        const aged = `${alias}-aged`;
        await addProvider({ alias: aged, issuer: source.issuer, jwksUri: source.jwksUri, maxTokenAge: 60 });
        const now = Math.floor(clock.now().getTime() / 1000);
        await refused(await source.sign(claims({ iat: now - 600, exp: now + 600 })), undefined, { alias: aged });
        await refused(await source.sign(claims({ iat: undefined })), /iat/, { alias: aged });
        await externalToInternal(await source.sign(claims({ preferred_username: `fresh-${alias}`, sub: "fresh" })), { alias: aged });
      });

      it(
        "too old: the description says too old, not expired",
        async () => {
          const aged = `${alias}-aged2`;
          await addProvider({ alias: aged, issuer: source.issuer, jwksUri: source.jwksUri, maxTokenAge: 60 });
          const now = Math.floor(clock.now().getTime() / 1000);
          await refused(await source.sign(claims({ iat: now - 600, exp: now + 3600 })), /too old/, { alias: aged });
        },
      );

      it("an unknown kid", async () => {
        const stranger = await newIssuerKey("unknown-kid");
        await refused(await source.sign(claims(), { key: stranger }), /unknown key/);
      });

      it("a huge token (more than 16 KiB)", async () => {
        await refused(await source.sign(claims({ padding: "x".repeat(17 * 1024) })), /too large/);
      });

      it("a jku, x5u or embedded jwk header pointing elsewhere then refused and nothing fetched from there", async () => {
        const key = evil.signingKey();
        await refused(await source.sign(claims(), { key, header: { jku: evil.jwksUri } }));
        await refused(await source.sign(claims(), { key, header: { x5u: `${attacker.base}/i/evil/cert.pem` } }));
        await refused(await source.sign(claims(), { key, header: { jwk: key.publicJwk } }));
        // Even with the provider's own kid, the key comes from the provider's JWKS only.
        await refused(await source.sign(claims(), { key, header: { kid: source.signingKey().kid, jku: evil.jwksUri } }), /signature/);
        assert.deepEqual(attacker.requests, [], "no request reached the attacker's server");
      });

      it("a token that is not a JWT, for a provider without introspection", async () => {
        await refused("not-a-jwt-at-all");
        await refused("a.b.c");
      });
    });

    describe("opaque tokens by introspection", () => {
      it("an active opaque token then exchanged for its user", async () => {
        const opaque = await oidc.token("opaque-user", RESOURCES.opaque);
        assert.ok(!opaque.includes("."), "opaque");
        const { claims } = await externalToInternal(opaque, { alias: "corp-opaque" });
        assert.equal((await repo.findLink(realmName, "corp-opaque", "opaque-user"))?.userId, claims.sub);
        const user = await repo.getUser(realmName, claims.sub as string);
        assert.equal(user?.username, "opaque-user");
        assert.equal(user?.email, "opaque-user@corp.example");
      });

      it("an opaque token revoked at the provider then invalid_request", async () => {
        const opaque = await oidc.token("opaque-revoked", RESOURCES.opaque);
        await externalToInternal(opaque, { alias: "corp-opaque" });
        await oidc.revoke(opaque, "opaque-revoked");
        const answer = await exchangeExternal(opaque, { alias: "corp-opaque" });
        assertError(answer, 400, "invalid_request");
        assert.match(answer.body.error_description as string, /inactive/);
        assertError(await exchangeExternal("never-issued-by-the-provider", { alias: "corp-opaque" }), 400, "invalid_request");
      });

      it("an opaque token for another audience then invalid_request", async () => {
        const opaque = await oidc.token("opaque-user", RESOURCES.foreignOpaque);
        assertError(await exchangeExternal(opaque, { alias: "corp-opaque" }), 400, "invalid_request");
      });

      it("an opaque token without subject_issuer then invalid_request (no iss to find the provider by)", async () => {
        const opaque = await oidc.token("opaque-user", RESOURCES.opaque);
        assertError(await exchangeExternal(opaque), 400, "invalid_request");
      });

      it("a provider JWT for another audience then invalid_request", async () => {
        assertError(await exchangeExternal(await oidc.token("erin", RESOURCES.foreignJwt), { alias: "corp" }), 400, "invalid_request");
      });
    });

    describe("AdminService identity providers", () => {
      const introspectingProvider = (alias: string, clientSecret: string) => ({
        alias,
        issuer: oidc.issuer,
        jwksUri: oidc.jwksUri,
        audiences: [PROVIDER_AUDIENCE],
        introspection: { endpoint: oidc.introspectionEndpoint, clientId: oidc.introspector.clientId, clientSecret },
        claims: { userId: "client_id" },
        conditions: [{ name: "has-client", expression: "has(claims.client_id)" }],
        userPolicy: "create-if-absent",
        accountLinkUrl: "https://corp.example/link",
      });

      const rpcFailure = (promise: Promise<unknown>) =>
        promise.then(
          () => assert.fail("the call succeeded"),
          (e: unknown) => ConnectError.from(e),
        );

      it("create, get, list, update (an empty secret keeps it) and delete (links gone), never returning the secret", async () => {
        const alias = `admin-${unique()}`;
        const secret = oidc.introspector.clientSecret;
        const created = (await admin.createIdentityProvider({ realm: realmName, identityProvider: introspectingProvider(alias, secret) })).identityProvider;
        assert.equal(created?.introspection?.clientSecret, "");
        assert.equal(created?.introspection?.hasClientSecret, true);
        assert.equal(created?.userPolicy, "create-if-absent");
        assert.deepEqual(created?.algorithms, [...DEFAULT_PROVIDER_ALGORITHMS]);

        const got = (await admin.getIdentityProvider({ realm: realmName, alias })).identityProvider;
        assert.equal(got?.introspection?.clientSecret, "");
        assert.equal(got?.introspection?.hasClientSecret, true);
        assert.equal(got?.introspection?.clientId, oidc.introspector.clientId);
        assert.equal(got?.claims?.userId, "client_id");
        assert.deepEqual(got?.conditions.map((c) => c.name), ["has-client"]);
        assert.ok(!JSON.stringify(got, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)).includes(secret));

        const listed = (await admin.listIdentityProviders({ realm: realmName })).identityProviders;
        assert.ok(listed.some((p) => p.alias === alias && p.introspection?.hasClientSecret && p.introspection.clientSecret === ""));
        assert.ok(["corp", "corp-opaque", "github"].every((a) => listed.some((p) => p.alias === a)));

        const stored = await repo.getIdentityProvider(realmName, alias);
        const encrypted = stored?.introspection?.encryptedClientSecret ?? "";
        assert.equal(encrypted.split(".").length, 5);
        assert.ok(!encrypted.includes(secret));
        assert.equal(await new MasterKeyCipher(masterKey).open(encrypted, introspectionSecretBinding(realmName, alias)), secret);

        await allowProvider(alias, ["idp-client"]);
        const { claims } = await externalToInternal(await oidc.token("opaque-admin", RESOURCES.opaque), { alias });

        const updated = (
          await admin.updateIdentityProvider({
            realm: realmName,
            identityProvider: { ...introspectingProvider(alias, ""), audiences: [PROVIDER_AUDIENCE, "another"] },
          })
        ).identityProvider;
        assert.deepEqual(updated?.audiences, [PROVIDER_AUDIENCE, "another"]);
        assert.equal(updated?.introspection?.hasClientSecret, true);
        assert.equal((await repo.getIdentityProvider(realmName, alias))?.introspection?.encryptedClientSecret, encrypted, "the secret is kept");
        // The kept secret still works at the provider.
        assert.equal((await externalToInternal(await oidc.token("opaque-admin", RESOURCES.opaque), { alias })).claims.sub, claims.sub);

        assert.ok(await repo.findLink(realmName, alias, "opaque-admin"));
        await admin.deleteIdentityProvider({ realm: realmName, alias });
        assert.equal(await repo.findLink(realmName, alias, "opaque-admin"), undefined);
        assert.equal(await repo.findLinkOfUser(realmName, alias, claims.sub as string), undefined);
        assert.equal((await rpcFailure(admin.getIdentityProvider({ realm: realmName, alias }))).code, Code.NotFound);
        assertError(await exchangeExternal(await oidc.token("opaque-admin", RESOURCES.opaque), { alias }), 400, "invalid_request");
        assert.equal((await rpcFailure(admin.deleteIdentityProvider({ realm: realmName, alias }))).code, Code.NotFound);
      });

      it("an invalid CEL expression then INVALID_ARGUMENT naming conditions[0].expression, without the expression", async () => {
        const expression = "repository == && secret-marker";
        const failure = await rpcFailure(
          admin.createIdentityProvider({
            realm: realmName,
            identityProvider: { ...introspectingProvider(`bad-${unique()}`, "s"), conditions: [{ name: "broken", expression }] },
          }),
        );
        assert.equal(failure.code, Code.InvalidArgument);
        assert.match(failure.rawMessage, /conditions\[0\]\.expression/);
        assert.ok(!failure.rawMessage.includes("secret-marker"), failure.rawMessage);
      });

      it("an HMAC or none algorithm, no audience, or a duplicate alias then refused", async () => {
        for (const algorithms of [["HS256"], ["none"]]) {
          const failure = await rpcFailure(
            admin.createIdentityProvider({ realm: realmName, identityProvider: { ...introspectingProvider(`alg-${unique()}`, "s"), algorithms } }),
          );
          assert.equal(failure.code, Code.InvalidArgument);
          assert.match(failure.rawMessage, /algorithms\[0\]/);
        }
        const noAudience = await rpcFailure(
          admin.createIdentityProvider({ realm: realmName, identityProvider: { ...introspectingProvider(`aud-${unique()}`, "s"), audiences: [] } }),
        );
        assert.equal(noAudience.code, Code.InvalidArgument);
        assert.match(noAudience.rawMessage, /audiences/);
        const duplicate = await rpcFailure(admin.createIdentityProvider({ realm: realmName, identityProvider: introspectingProvider("corp", "s") }));
        assert.equal(duplicate.code, Code.AlreadyExists);
      });

      it(
        "what the realm file refuses (empty audience, condition name, attribute claim, introspection client_id) then INVALID_ARGUMENT here too",
        async () => {
          const base = { issuer: "https://idp.example", audiences: ["tessera"] };
          const cases = {
            emptyAudience: { ...base, audiences: [""] },
            emptyConditionName: { ...base, conditions: [{ name: "", expression: "true" }] },
            emptyAttributeClaim: { ...base, claims: { attributes: { department: "" } } },
            emptyIntrospectionClientId: { ...base, introspection: { endpoint: "https://idp.example/introspect", clientId: "", clientSecret: "s" } },
          };
          const codes: Record<string, string> = {};
          for (const [name, identityProvider] of Object.entries(cases)) {
            const alias = `parity-${unique()}`;
            codes[name] = await admin.createIdentityProvider({ realm: realmName, identityProvider: { alias, ...identityProvider } }).then(
              () => "OK",
              (e: unknown) => Code[ConnectError.from(e).code],
            );
          }
          assert.deepEqual(codes, Object.fromEntries(Object.keys(cases).map((name) => [name, "InvalidArgument"])));
        },
      );

      it("a jwks_json that is not JSON then INVALID_ARGUMENT naming jwksJson", async () => {
        const failure = await rpcFailure(
          admin.createIdentityProvider({
            realm: realmName,
            identityProvider: { alias: `jwks-${unique()}`, issuer: "https://idp.example", audiences: ["tessera"], jwksJson: "not json" },
          }),
        );
        assert.equal(failure.code, Code.InvalidArgument);
        assert.match(failure.rawMessage, /jwksJson/);
      });

      it(
        "a jwks_json that is JSON but not a JWK Set then INVALID_ARGUMENT, not INTERNAL",
        async () => {
          const codes: Record<string, string> = {};
          for (const jwksJson of ["{}", "[]", '{"keys":[1]}', '{"keys":"x"}', '{"keys":[null]}', "42"]) {
            const failure = await rpcFailure(
              admin.createIdentityProvider({
                realm: realmName,
                identityProvider: { alias: `jwks-${unique()}`, issuer: "https://idp.example", audiences: ["tessera"], jwksJson },
              }),
            );
            codes[jwksJson] = Code[failure.code];
          }
          assert.deepEqual(Object.values(codes), Object.values(codes).map(() => "InvalidArgument"), JSON.stringify(codes));
        },
      );
    });

    it("no token request of this suite ended in a 500 or INTERNAL on either instance", () => {
      const tokenSurface = /"operation":"(token\/|tessera\.exchange\.v1\.TokenExchangeService\/)/;
      const failed = [...tessera.logs(), ...second.logs()].filter(
        (line) => tokenSurface.test(line) && /"status":500|"error":"(server_error|internal)"/.test(line),
      );
      assert.deepEqual(failed, []);
    });
  });
}

/** A fresh token of the provider's user signed like the provider would (its current key), for when the provider is down. */
async function signedLike(provider: OidcTestProvider, user: string): Promise<string> {
  const jwk = provider.privateJwk();
  const key = await importJWK(jwk, "ES256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: user, client_id: user, scope: "api", jti: randomUUID() })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: String(jwk.kid) })
    .setIssuer(provider.issuer)
    .setAudience("tessera")
    .setIssuedAt(now)
    .setExpirationTime(now + JWT_TOKEN_TTL)
    .sign(key);
}
