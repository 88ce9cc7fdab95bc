/**
 * Import of Keycloak realm exports: the conversion of a real export made by Keycloak 26.7.3
 * (`../shared/fixtures/keycloak/bench-realm-export.json`), and of that export grown with what a
 * production realm holds (public and private_key_jwt clients, users with federated identities, an
 * OpenID Connect provider, roles, groups, a SAML client); then ImportKeycloakRealm over gRPC into a
 * running Tessera, and the exchange the Keycloak realm served, served by Tessera.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { decodeProtectedHeader } from "jose";
import { generate } from "selfsigned";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { convertKeycloakExport, KeycloakExportError } from "../../src/keycloak/convert-realm.js";
import { postForm, verifyWithJwks } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";

const FIXTURE = new URL("../../../shared/fixtures/keycloak/bench-realm-export.json", import.meta.url);
const exportText = readFileSync(FIXTURE, "utf8");
type Export = Record<string, unknown> & { clients: Record<string, unknown>[]; users: Record<string, unknown>[] };
const exported = (): Export => JSON.parse(exportText) as Export;

/** The service-account user ids Keycloak gave gateway and orders-api in the fixture. */
const serviceAccountId = (clientId: string): string => exported().users.find((u) => u.serviceAccountClientId === clientId)!.id as string;

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

/** The fixture grown with what a production realm has beyond it. */
async function grownExport(): Promise<string> {
  const source = exported();
  const { cert } = await generate([{ name: "commonName", value: "batch-job" }], { keySize: 2048 });
  const der = Buffer.from(cert.replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64");
  source.clients.push(
    { clientId: "mobile-app", enabled: true, publicClient: true, protocol: "openid-connect", standardFlowEnabled: true, redirectUris: ["app://cb"], defaultClientScopes: ["basic"], attributes: { "standard.token.exchange.enabled": "true" } },
    { clientId: "batch-job", enabled: true, publicClient: false, clientAuthenticatorType: "client-jwt", serviceAccountsEnabled: true, attributes: { "jwt.credential.certificate": der } },
    { clientId: "legacy-saml", protocol: "saml", enabled: true },
    { clientId: "billing-api", bearerOnly: true, enabled: true, protocol: "openid-connect" },
  );
  source.users.push({
    id: randomUUID(),
    username: "dana",
    email: "dana@example.com",
    enabled: true,
    attributes: { department: ["billing"] },
    credentials: [{ type: "password" }],
    realmRoles: ["default-roles-bench", "auditor"],
    groups: ["/finance"],
    federatedIdentities: [
      { identityProvider: "corp", userId: "corp-dana-1", userName: "dana" },
      { identityProvider: "github", userId: "42", userName: "dana" },
    ],
  });
  const publicKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }) as string;
  source.identityProviders = [
    { alias: "corp", providerId: "oidc", enabled: true, storeToken: true, config: { issuer: "https://corp.example", jwksUrl: "https://corp.example/jwks", useJwksUrl: "true", clientId: "tessera-at-corp" } },
    { alias: "partner", providerId: "keycloak-oidc", enabled: true, config: { issuer: "https://partner.example/realms/p", useJwksUrl: "false", publicKeySignatureVerifier: publicKey, publicKeySignatureVerifierKeyId: "p-1", clientId: "tessera", validateSignature: "false" } },
    { alias: "github", providerId: "github", enabled: true, config: { clientId: "x" } },
  ];
  source.identityProviderMappers = [
    { name: "department", identityProviderAlias: "corp", identityProviderMapper: "oidc-user-attribute-idp-mapper", config: { claim: "dept", "user.attribute": "department" } },
    { name: "username", identityProviderAlias: "corp", identityProviderMapper: "oidc-username-idp-mapper", config: { template: "${CLAIM.email}" } },
  ];
  (source.roles as { realm: { name: string }[] }).realm.push({ name: "auditor" });
  source.groups = [{ name: "finance" }];
  return JSON.stringify(source);
}

/** The notes about `element`, by outcome. */
const notesOf = (notes: { element: string; outcome: string; reason: string }[], element: string) => notes.filter((n) => n.element === element);

describe("Keycloak export conversion", () => {
  it("converts the real export: its two clients with secrets, service-account ids kept, token exchange as Keycloak's standard V2", () => {
    const { file, notes } = convertKeycloakExport(exportText);
    assert.equal(file.realm, "bench");
    assert.equal(file.signingAlgorithm, "RS256");
    assert.equal(file.accessTokenLifespan, exported().accessTokenLifespan);
    assert.deepEqual(
      file.clients?.map((c) => c.clientId),
      ["gateway", "orders-api"],
    );
    const gateway = file.clients![0];
    assert.equal(gateway.secret, "gateway-secret");
    assert.equal(gateway.serviceAccount, true);
    assert.equal(gateway.serviceAccountUserId, serviceAccountId("gateway"));
    assert.deepEqual(gateway.optionalScopes, ["orders.read"]);
    assert.deepEqual(gateway.tokenExchange, { enabled: true, scopePolicy: "requester", refreshTokens: "none" });
    assert.deepEqual(
      file.scopes?.find((s) => s.name === "orders.read"),
      { name: "orders.read", audiences: ["orders-api"] },
    );
    assert.deepEqual(file.users, [], "service-account users become their clients' serviceAccountUserId");
    for (const builtIn of ["account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"]) {
      assert.equal(notesOf(notes, `client ${builtIn}`)[0]?.outcome, "left_out", builtIn);
    }
    assert.equal(notesOf(notes, "client scope offline_access")[0]?.outcome, "left_out");
    assert.ok(notes.some((n) => n.element.startsWith("key provider ") && n.outcome === "left_out"));
  });

  it("converts what a production realm adds, and says per element what it left out and why", async () => {
    const { file, notes } = convertKeycloakExport(await grownExport(), { realm: "migrated" });
    assert.equal(file.realm, "migrated");
    const client = (id: string) => file.clients?.find((c) => c.clientId === id);
    assert.deepEqual(client("mobile-app"), { clientId: "mobile-app", public: true, defaultScopes: ["basic"], optionalScopes: [], tokenExchange: { enabled: true, scopePolicy: "requester", refreshTokens: "none" } });
    assert.equal(notesOf(notes, "client mobile-app browser and password flows")[0]?.outcome, "left_out");
    assert.deepEqual(client("batch-job")?.authMethods, ["private_key_jwt"]);
    assert.equal(client("batch-job")?.jwks?.keys[0].kty, "RSA");
    assert.equal(client("legacy-saml"), undefined);
    assert.match(notesOf(notes, "client legacy-saml")[0].reason, /saml client/);
    assert.equal(notesOf(notes, "client billing-api")[0].outcome, "changed");
    const dana = file.users?.find((u) => u.username === "dana");
    assert.deepEqual(dana?.links, [{ alias: "corp", externalUserId: "corp-dana-1" }]);
    assert.deepEqual(dana?.attributes, { department: ["billing"] });
    for (const element of ["user dana credentials", "user dana roles auditor", "user dana groups /finance", "user dana link to github", "realm role auditor", "group finance", "identity provider github", "identity provider corp mapper username"]) {
      assert.equal(notesOf(notes, element)[0]?.outcome, "left_out", element);
    }
    const corp = file.identityProviders?.find((p) => p.alias === "corp");
    assert.deepEqual(corp, { alias: "corp", issuer: "https://corp.example", jwksUri: "https://corp.example/jwks", audiences: ["tessera-at-corp"], claims: { attributes: { department: "dept" } }, storeTokens: true });
    const partner = file.identityProviders?.find((p) => p.alias === "partner");
    assert.equal(partner?.jwks?.keys[0].kid, "p-1");
    assert.ok(notesOf(notes, "identity provider partner").some((n) => /did not validate/.test(n.reason)));
    assert.ok(!JSON.stringify(notes).includes("gateway-secret"), "no note quotes a secret");
  });

  it("refuses what is not a realm export with one line saying what was expected", () => {
    assert.throws(() => convertKeycloakExport("{not json"), (e: Error) => e instanceof KeycloakExportError && /^not JSON/.test(e.message));
    assert.throws(() => convertKeycloakExport(JSON.stringify({ clients: [] })), (e: Error) => e instanceof KeycloakExportError && /realm/.test(e.message));
    assert.throws(() => convertKeycloakExport(JSON.stringify({ realm: "x", clients: [{ secret: "s" }] })), (e: Error) => e instanceof KeycloakExportError && /clients\.0\.clientId/.test(e.message));
  });
});

describe("ImportKeycloakRealm over gRPC", () => {
  let tessera: TesseraHarness;
  let admin: Client<typeof AdminService>;

  before(async () => {
    tessera = await startTessera();
    admin = (await tessera.adminCaller()).admin("grpc");
  });
  after(async () => tessera?.stop());

  it("a dry run reports the notes, the changes and the realm file, secrets masked, and writes nothing", async () => {
    const answer = await admin.importKeycloakRealm({ realmExport: exportText, realm: "kc-dry", dryRun: true });
    assert.equal(answer.dryRun, true);
    assert.equal(answer.realmCreated, true);
    assert.deepEqual(
      answer.changes.filter((c) => c.kind === "client").map((c) => c.key),
      ["gateway", "orders-api"],
    );
    assert.ok(answer.notes.some((n) => n.element === "client admin-cli" && n.outcome === "left_out"));
    assert.match(answer.realmFile, /secret: "\*\*\*\*\*"/);
    assert.ok(!answer.realmFile.includes("gateway-secret"));
    const missing = await admin.getRealm({ name: "kc-dry" }).catch((e: unknown) => e);
    assert.equal(ConnectError.from(missing).code, Code.NotFound);
  });

  it("after the import, Keycloak's exchange works on Tessera: same client and secret, audience, scope and sub, RS256", async () => {
    await admin.importKeycloakRealm({ realmExport: exportText, realm: "kc-bench" });
    const url = tessera.tokenUrl("kc-bench");
    const own = await postForm(url, { grant_type: "client_credentials", scope: "orders.read" }, { basic: ["gateway", "gateway-secret"] });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    const exchanged = await postForm(
      url,
      { grant_type: TOKEN_EXCHANGE, subject_token: own.body.access_token as string, subject_token_type: ACCESS_TOKEN, audience: "orders-api", scope: "orders.read" },
      { basic: ["gateway", "gateway-secret"] },
    );
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    const token = exchanged.body.access_token as string;
    const claims = await verifyWithJwks(token, tessera.issuer("kc-bench"));
    assert.equal(claims.aud, "orders-api");
    assert.equal(claims.scope, "orders.read");
    assert.equal(claims.sub, serviceAccountId("gateway"), "tokens keep the sub Keycloak gave the service account");
    assert.equal(decodeProtectedHeader(token).alg, "RS256");
  });

  it("imports users with their links to the providers imported with them; a second run changes nothing", async () => {
    const text = await grownExport();
    const first = await admin.importKeycloakRealm({ realmExport: text, realm: "kc-grown" });
    assert.ok(first.changes.some((c) => c.kind === "link" && c.key === "dana@corp" && c.action === "create"));
    const { users } = await admin.listUsers({ realm: "kc-grown", pageSize: 10 });
    const dana = users.find((u) => u.username === "dana");
    assert.ok(dana);
    const { links } = await admin.listUserLinks({ realm: "kc-grown", userId: dana.id });
    assert.deepEqual(
      links.map((l) => [l.alias, l.externalUserId]),
      [["corp", "corp-dana-1"]],
    );
    const again = await admin.importKeycloakRealm({ realmExport: text, realm: "kc-grown", dryRun: true });
    assert.deepEqual(
      again.changes.filter((c) => c.kind !== "client" || c.key !== "billing-api"),
      [],
      "idempotent (billing-api gets a new random secret each run)",
    );
  });

  it("an export that is not one then INVALID_ARGUMENT on realm_export", async () => {
    const error = ConnectError.from(await admin.importKeycloakRealm({ realmExport: "[]" }).catch((e: unknown) => e));
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /realm_export/);
  });
});
