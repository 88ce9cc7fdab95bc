/**
 * Migration from Keycloak, side by side: `fixtures/migration-export.json` is a realm exported by
 * Keycloak 26.7.3 itself (`kc.sh export`; confidential, public and private_key_jwt clients with
 * standard token exchange, scopes with audience mappers, a user with a federated identity, an
 * OpenID Connect provider, a role and a group), and `fixtures/migration-keycloak-answers.json` what
 * that Keycloak answered to a set of grants and exchanges on the realm before the export. Both are
 * made by `node scripts/keycloak-fixture.mjs`. After ImportKeycloakRealm, Tessera answers the same
 * requests with the same audience, scope and azp, or with the error the "Where Tessera differs
 * from Keycloak" table of docs/exchange.md names.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Client } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import type { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { postForm, type TokenAnswer } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";

const fixture = (name: string): string => readFileSync(new URL(`fixtures/${name}`, import.meta.url), "utf8");
const EXPORT = fixture("migration-export.json");

/** What a caller compares of a token endpoint answer (as the fixture script records it). */
interface Summary {
  status: number;
  error?: string;
  aud?: string[];
  scope?: string;
  azp?: string;
  issued_token_type?: string | null;
}
const KEYCLOAK = (JSON.parse(fixture("migration-keycloak-answers.json")) as { answers: Record<string, Summary> }).answers;

/** Where Tessera answers otherwise on purpose (docs/exchange.md, "Where Tessera differs from Keycloak"). */
const DIFFERENCES: Record<string, Summary> = {
  // RFC 8693 §2.2.2: an audience the server does not know is invalid_target.
  "gateway exchanges for audience=unknown-client": { status: 400, error: "invalid_target" },
  // RFC 8693 §2.2.2 again: a known audience that no scope of the request reaches is a target the
  // server is unwilling to issue for; Keycloak says invalid_request ("audience not available").
  "gateway exchanges for audience=orders-api": { status: 400, error: "invalid_target" },
  "orders-api exchanges for audience=gateway": { status: 400, error: "invalid_target" },
};

const SECRETS = { gateway: "gateway-secret-0123456789", "orders-api": "orders-secret-0123456789" };
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

function summary(answer: TokenAnswer): Summary {
  if (answer.status !== 200) return { status: answer.status, error: answer.body.error as string };
  const claims = decodeJwt(answer.body.access_token as string);
  const aud = claims.aud === undefined ? [] : [claims.aud].flat().sort();
  return { status: 200, aud, scope: String(answer.body.scope).split(" ").sort().join(" "), azp: claims.azp as string, issued_token_type: (answer.body.issued_token_type as string | undefined) ?? null };
}

describe("migrating a realm from Keycloak 26.7.3: its export imported, its answers replayed", () => {
  let tessera: TesseraHarness;
  let admin: Client<typeof AdminService>;
  const answers: Record<string, Summary> = {};

  before(async () => {
    tessera = await startTessera();
    admin = (await tessera.adminCaller()).admin("grpc");
    await admin.importKeycloakRealm({ realmExport: EXPORT });
    const url = tessera.tokenUrl("migration");
    const post = (client: keyof typeof SECRETS, params: Record<string, string>) => postForm(url, params, { basic: [client, SECRETS[client]] });
    const gateway = await post("gateway", { grant_type: "client_credentials", scope: "orders.read" });
    answers["gateway client_credentials scope=orders.read"] = summary(gateway);
    const exchange = (client: keyof typeof SECRETS, params: Record<string, string>) =>
      post(client, { grant_type: TOKEN_EXCHANGE, subject_token: gateway.body.access_token as string, subject_token_type: ACCESS_TOKEN, ...params });
    answers["gateway exchanges for audience=orders-api"] = summary(await exchange("gateway", { audience: "orders-api" }));
    answers["gateway exchanges for audience=orders-api scope=orders.read"] = summary(await exchange("gateway", { audience: "orders-api", scope: "orders.read" }));
    answers["orders-api exchanges for audience=inventory-api scope=inventory.read"] = summary(await exchange("orders-api", { audience: "inventory-api", scope: "inventory.read" }));
    answers["orders-api exchanges for audience=gateway"] = summary(await exchange("orders-api", { audience: "gateway" }));
    answers["gateway exchanges for scope=inventory.read"] = summary(await exchange("gateway", { scope: "inventory.read" }));
    answers["gateway exchanges for audience=unknown-client"] = summary(await exchange("gateway", { audience: "unknown-client" }));
  });

  after(async () => tessera?.stop());

  it("replays every request the fixture recorded", () => {
    assert.deepEqual(Object.keys(answers).sort(), Object.keys(KEYCLOAK).sort());
  });

  for (const [request, keycloak] of Object.entries(KEYCLOAK)) {
    it(`${request}: ${DIFFERENCES[request] ? "the documented difference" : "as Keycloak answered"}`, () => {
      assert.deepEqual(answers[request], DIFFERENCES[request] ?? keycloak, `Keycloak answered ${JSON.stringify(keycloak)}`);
    });
  }

  it("reports, per element, what did not carry over: built-in clients, roles, groups, the provider's client secret", async () => {
    const report = await admin.importKeycloakRealm({ realmExport: EXPORT, realm: "migration-dry", dryRun: true });
    const note = (element: string) => report.notes.find((n) => n.element === element);
    for (const builtIn of ["account", "admin-cli", "broker", "realm-management"]) assert.equal(note(`client ${builtIn}`)?.outcome, "left_out", builtIn);
    assert.ok(report.notes.some((n) => /role/.test(n.element) && n.outcome === "left_out"), "roles are reported");
    assert.ok(report.notes.some((n) => /group/.test(n.element) && n.outcome === "left_out"), "groups are reported");
    assert.ok(!report.realmFile.includes(SECRETS.gateway), "the dry run's realm file masks secrets");
    assert.match(report.realmFile, /clientId: cli\b/);
  });

  it("keeps the user and the federated identity: alice is linked to corp as corp-alice-42", async () => {
    const users = await admin.listUsers({ realm: "migration" });
    const alice = users.users.find((u) => u.username === "alice");
    assert.ok(alice, "alice is imported");
    const links = await admin.listUserLinks({ realm: "migration", userId: alice.id });
    assert.deepEqual(links.links.map((l) => [l.alias, l.externalUserId]), [["corp", "corp-alice-42"]]);
  });
});
