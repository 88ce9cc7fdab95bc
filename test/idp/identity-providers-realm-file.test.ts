import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { exportJWK, generateKeyPair } from "jose";
import { MasterKeyCipher } from "../../src/crypto/master-key-cipher.js";
import { DEFAULT_PROVIDER_ALGORITHMS, introspectionSecretBinding } from "../../src/domain/index.js";
import { parseRealmDocument, RealmFileError } from "../../src/realm-file/index.js";

const cipher = new MasterKeyCipher(randomBytes(32));
const seal = (text: string, binding: string) => cipher.seal(text, binding);

const INTROSPECTION_SECRET = "introspection-secret-value";

/** A realm file with two providers and a client allowed both; `edit` changes the parsed object before it is serialized. */
function realmDocument(edit: (doc: RealmDoc) => void = () => {}): string {
  const doc: RealmDoc = {
    realm: "idp-file",
    scopes: [{ name: "profile" }],
    clients: [
      {
        clientId: "idp-client",
        secret: "client-secret",
        defaultScopes: ["profile"],
        tokenExchange: { enabled: true, identityProviders: ["corp", "github"] },
      },
    ],
    identityProviders: [
      {
        alias: "corp",
        issuer: "https://idp.corp.example",
        jwksUri: "https://idp.corp.example/jwks",
        audiences: ["tessera"],
        algorithms: ["ES256", "RS256"],
        maxTokenAge: 3600,
        introspection: { endpoint: "https://idp.corp.example/introspect", clientId: "tessera", clientSecret: INTROSPECTION_SECRET },
        claims: { userId: "oid", username: "upn", email: "mail", attributes: { department: "dept" } },
        userPolicy: "create-if-absent",
        storeTokens: true,
        accountLinkUrl: "https://corp.example/link",
      },
      {
        alias: "github",
        issuer: "https://token.actions.githubusercontent.com",
        audiences: ["tessera"],
        conditions: [{ name: "main-of-acme-api", expression: "repository == 'acme/api' && ref == 'refs/heads/main'" }],
      },
    ],
  };
  edit(doc);
  return JSON.stringify(doc);
}

// The realm file's shape, loosely: tests break it on purpose.
type RealmDoc = {
  realm: string;
  scopes: Record<string, unknown>[];
  clients: (Record<string, unknown> & { tokenExchange: Record<string, unknown> })[];
  identityProviders: Record<string, unknown>[];
};

async function refusal(text: string, options = { seal }): Promise<RealmFileError> {
  return parseRealmDocument(text, "idp.yaml", options).then(
    () => assert.fail("the realm file was accepted"),
    (error: unknown) => {
      assert.ok(error instanceof RealmFileError, String(error));
      return error;
    },
  );
}

describe("realm file identityProviders", () => {
  it("an identityProviders block then parsed with defaults, the introspection secret sealed", async () => {
    const bundle = await parseRealmDocument(realmDocument(), "idp.yaml", { seal });
    const [corp, github] = bundle.identityProviders;
    assert.equal(corp.alias, "corp");
    assert.equal(corp.enabled, true);
    assert.equal(corp.jwksUri, "https://idp.corp.example/jwks");
    assert.deepEqual(corp.algorithms, ["ES256", "RS256"]);
    assert.equal(corp.maxTokenAge, 3600);
    assert.deepEqual(corp.claims, { userId: "oid", username: "upn", email: "mail", attributes: { department: "dept" } });
    assert.equal(corp.userPolicy, "create-if-absent");
    assert.equal(corp.storeTokens, true);
    assert.equal(corp.accountLinkUrl, "https://corp.example/link");
    assert.equal(corp.introspection?.endpoint, "https://idp.corp.example/introspect");
    assert.equal(corp.introspection?.clientId, "tessera");
    const sealed = corp.introspection?.encryptedClientSecret ?? "";
    assert.ok(!sealed.includes(INTROSPECTION_SECRET));
    assert.equal(await cipher.open(sealed, introspectionSecretBinding("idp-file", "corp")), INTROSPECTION_SECRET);
    assert.ok(!JSON.stringify(bundle).includes(INTROSPECTION_SECRET), "the plain secret is nowhere in the bundle");

    assert.equal(github.jwksUri, undefined, "keys by discovery");
    assert.deepEqual(github.algorithms, [...DEFAULT_PROVIDER_ALGORITHMS]);
    assert.deepEqual(github.claims, { userId: "sub", username: "preferred_username", email: "email", attributes: {} });
    assert.equal(github.userPolicy, "create");
    assert.equal(github.storeTokens, false);
    assert.equal(github.conditions[0].name, "main-of-acme-api");
    assert.deepEqual(bundle.clients[0].tokenExchange.identityProviders, ["corp", "github"]);
  });

  it("the same block in YAML then the same providers", async () => {
    const yaml = `
realm: idp-yaml
clients:
  - clientId: idp-client
    secret: s
    tokenExchange: { enabled: true, identityProviders: [github] }
identityProviders:
  - alias: github
    issuer: https://token.actions.githubusercontent.com
    audiences: [tessera]
    algorithms: [RS256]
    conditions:
      - name: main-of-acme-api
        expression: "repository == 'acme/api' && ref == 'refs/heads/main'"
`;
    const bundle = await parseRealmDocument(yaml, "idp.yaml");
    assert.equal(bundle.identityProviders[0].conditions[0].expression, "repository == 'acme/api' && ref == 'refs/heads/main'");
  });

  it("an introspection secret without a master key to seal it then refused", async () => {
    const error = await refusal(realmDocument(), {} as { seal: typeof seal });
    assert.match(error.message, /identityProviders\[0\]\.introspection\.clientSecret/);
    assert.ok(!error.message.includes(INTROSPECTION_SECRET));
  });

  it("a client naming an unknown alias then refused", async () => {
    const error = await refusal(realmDocument((doc) => (doc.clients[0].tokenExchange.identityProviders = ["corp", "gitlab"])));
    assert.match(error.message, /clients\[0\]\.tokenExchange\.identityProviders\[1\]/);
    assert.match(error.message, /gitlab/);
  });

  for (const alg of ["HS256", "HS512", "none"]) {
    it(`${alg} in algorithms then refused`, async () => {
      const error = await refusal(realmDocument((doc) => (doc.identityProviders[0].algorithms = ["ES256", alg])));
      assert.match(error.message, /identityProviders\[0\]\.algorithms\[1\]/);
    });
  }

  it("an invalid CEL expression then refused naming conditions[0].expression, without echoing it", async () => {
    const error = await refusal(
      realmDocument((doc) => (doc.identityProviders[1].conditions = [{ name: "broken", expression: "repository == && hidden_marker" }])),
    );
    assert.match(error.message, /identityProviders\[1\]\.conditions\[0\]\.expression/);
    assert.ok(!error.message.includes("hidden_marker"), error.message);
  });

  it("duplicate condition names or aliases then refused", async () => {
    const names = await refusal(
      realmDocument((doc) => (doc.identityProviders[1].conditions = [{ name: "a", expression: "true" }, { name: "a", expression: "false" }])),
    );
    assert.match(names.message, /identityProviders\[1\]\.conditions\[1\]\.name/);
    const aliases = await refusal(realmDocument((doc) => (doc.identityProviders[1].alias = "corp")));
    assert.match(aliases.message, /identityProviders\[1\]\.alias/);
  });

  it("no audience, jwks with jwksUri, a private key in jwks, a relative issuer, or an unknown policy then refused", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const cases: [(doc: RealmDoc) => void, RegExp][] = [
      [(doc) => (doc.identityProviders[0].audiences = []), /identityProviders\[0\]\.audiences/],
      [(doc) => (doc.identityProviders[0].jwks = { keys: [] }), /identityProviders\[0\]\.jwksUri/],
      [(doc) => (doc.identityProviders[1].jwks = { keys: [privateJwk] }), /identityProviders\[1\]\.jwks\.keys\[0\]/],
      [(doc) => (doc.identityProviders[1].issuer = "/not/absolute"), /identityProviders\[1\]\.issuer/],
      [(doc) => (doc.identityProviders[1].userPolicy = "auto"), /identityProviders\[1\]\.userPolicy/],
      [(doc) => (doc.identityProviders[1].maxTokenAge = -1), /identityProviders\[1\]\.maxTokenAge/],
      [(doc) => (doc.identityProviders[1].unknownKey = true), /identityProviders\[1\]/],
    ];
    for (const [edit, path] of cases) {
      const error = await refusal(realmDocument(edit));
      assert.match(error.message, path);
      assert.ok(!error.message.includes(String(privateJwk.d)), "no key material in the message");
    }
  });
});
