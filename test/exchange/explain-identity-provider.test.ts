/**
 * ExplainExchange with an identity provider's token (EXCHANGE.md kinds 4 and 5): a first login
 * explained creates no user, link or stored token, and the real exchange then does; a stored
 * upstream token is never shown by an explanation.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { MasterKeyCipher } from "../../src/crypto/master-key-cipher.js";
import { parseRealmDocument } from "../../src/realm-file/index.js";
import { countingRepository } from "../support/counting-repository.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { startIssuerServer, type IssuerServer, type TestIssuer } from "../idp/test-issuers.js";

const REALM = "explain-idp";
const ACCESS = "urn:ietf:params:oauth:token-type:access_token";
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const SECRET = "broker-secret";

describe("ExplainExchange with identity provider tokens", () => {
  let harness: TesseraHarness;
  let issuers: IssuerServer;
  let corp: TestIssuer;
  const counted = countingRepository();
  const masterKey = randomBytes(32);
  const basic = { basic: ["broker", SECRET] as [string, string] };

  before(async () => {
    issuers = await startIssuerServer();
    corp = await issuers.create("corp");
    harness = await startTessera({ repository: counted.repository, masterKey });
    const yaml = `
realm: ${REALM}
scopes:
  - { name: profile }
clients:
  - clientId: broker
    secret: ${SECRET}
    serviceAccount: true
    defaultScopes: [profile]
    tokenExchange: { enabled: true, identityProviders: [corp] }
identityProviders:
  - alias: corp
    issuer: ${corp.issuer}
    jwksUri: ${corp.jwksUri}
    audiences: [tessera]
    algorithms: [ES256]
    userPolicy: create
    storeTokens: true
`;
    const cipher = new MasterKeyCipher(masterKey);
    await harness.repository.importRealm(await parseRealmDocument(yaml, `${REALM}.yaml`, { seal: (text, binding) => cipher.seal(text, binding) }));
  });

  after(async () => {
    await harness?.stop();
    await issuers?.close();
  });

  const form = (subjectToken: string, extra: Record<string, string> = {}) => ({ grant_type: EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS, ...extra });

  async function writesOf<T>(run: () => Promise<T>): Promise<{ result: T; writes: string[] }> {
    await harness.tessera.audit.flush();
    const start = counted.writes.length;
    const result = await run();
    await harness.tessera.audit.flush();
    return { result, writes: counted.writes.slice(start).filter((w) => w !== "appendEvents") };
  }

  it("a first login explained creates nothing; the real exchange then creates the user, the link and the stored token", async () => {
    const external = await corp.sign({ sub: "emp-42", preferred_username: "dana" });
    const explained = await writesOf(() => postForm(`${harness.tokenUrl(REALM)}/explain`, form(external), basic));
    assert.equal(explained.result.status, 200, JSON.stringify(explained.result.body));
    assert.deepEqual(explained.writes, [], "no user, link, stored token or session");
    const outcome = explained.result.body.outcome as { issued: boolean; claims: Record<string, unknown> };
    assert.equal(outcome.issued, true);
    assert.equal(outcome.claims.azp, "broker");
    const rules = explained.result.body.rules as { name: string; inputs: Record<string, unknown> }[];
    assert.ok(rules.some((r) => r.name === "external_subject"));
    assert.ok(!JSON.stringify(explained.result.body).includes(external), "the provider's token is not in the trace");
    assert.equal(await harness.repository.findUserByUsername(REALM, "dana"), undefined, "explain created no user");

    const real = await writesOf(() => postForm(harness.tokenUrl(REALM), form(external), basic));
    assert.equal(real.result.status, 200, JSON.stringify(real.result.body));
    for (const write of ["createLink", "createUser", "storeLinkToken", "createSession"]) assert.ok(real.writes.includes(write), `${write} in ${real.writes.join()}`);
    assert.ok(await harness.repository.findUserByUsername(REALM, "dana"));
  });

  it("internal to external explained: issued, without the stored upstream token or its claims", async () => {
    const external = await corp.sign({ sub: "emp-43", preferred_username: "erin" });
    const realm = await postForm(harness.tokenUrl(REALM), form(external), basic);
    assert.equal(realm.status, 200, JSON.stringify(realm.body));
    const explained = await writesOf(() => postForm(`${harness.tokenUrl(REALM)}/explain`, form(String(realm.body.access_token), { requested_issuer: "corp" }), basic));
    assert.deepEqual(explained.writes, []);
    const outcome = explained.result.body.outcome as { issued: boolean; claims?: unknown; issued_token_type: string };
    assert.equal(outcome.issued, true, JSON.stringify(explained.result.body));
    assert.equal(outcome.claims, undefined);
    assert.equal(outcome.issued_token_type, ACCESS);
    assert.ok(!JSON.stringify(explained.result.body).includes(external), "the stored token is not shown");
    const real = await postForm(harness.tokenUrl(REALM), form(String(realm.body.access_token), { requested_issuer: "corp" }), basic);
    assert.equal(real.body.access_token, external, "the real call returns the stored token");
  });
});
