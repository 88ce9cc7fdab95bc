import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseRealmFile, RealmFileError } from "../../src/realm-file/index.js";
import { assertDocRefused, assertRefused, parseDoc, SECRETS, validDoc } from "./fixtures.js";

describe("parseRealmFile", () => {
  it("parses examples/demo-realm.yaml", async () => {
    const bundle = await parseRealmFile("examples/demo-realm.yaml");
    assert.equal(bundle.realm.name, "demo");
    assert.deepEqual(
      bundle.scopes.map((s) => [s.name, s.audiences]),
      [
        ["orders.read", ["orders-api"]],
        ["orders.write", ["orders-api"]],
        ["inventory.read", ["inventory-api"]],
        ["profile", []],
      ],
    );
    assert.deepEqual(
      bundle.clients.map((c) => c.clientId),
      ["gateway", "orders-api", "inventory-api", "support-console", "cli", "retired"],
    );
    const [gateway, orders, inventory, support, cli, retired] = bundle.clients;
    assert.equal(gateway.serviceAccount, true);
    assert.deepEqual(gateway.optionalScopes, ["orders.read", "orders.write", "inventory.read"]);
    assert.equal(gateway.tokenExchange.enabled, true);
    assert.deepEqual(orders.resourceUris, ["https://orders.example.com"]);
    assert.deepEqual(orders.optionalScopes, ["inventory.read"]);
    assert.equal(orders.tokenExchange.enabled, true);
    assert.deepEqual(inventory.resourceUris, ["https://inventory.example.com"]);
    assert.deepEqual(support.tokenExchange.impersonation, { allUsers: false, users: [], userAttribute: { name: "department", value: "sales" } });
    assert.equal(gateway.tokenExchange.mayAct, "orders-api");
    assert.equal(orders.tokenExchange.delegation, true);
    assert.equal(cli.publicClient, true);
    assert.equal(retired.enabled, false);
    assert.deepEqual(
      bundle.users.map((u) => u.username),
      ["alice", "bob"],
    );
  });

  it("parses examples/demo-realm.json", async () => {
    const bundle = await parseRealmFile("examples/demo-realm.json");
    assert.equal(bundle.realm.name, "json-demo");
    assert.ok(bundle.clients.length > 0);
  });

  it("reads JSON and YAML alike, by content whatever the file name", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-realm-"));
    try {
      const file = join(dir, "realm.yaml");
      await writeFile(file, JSON.stringify(validDoc()));
      const fromJson = await parseRealmFile(file);
      const fromYaml = await parseDoc(validDoc());
      const comparable = (b: typeof fromJson) => ({
        ...b,
        clients: b.clients.map(({ secretHash, serviceAccountUserId, ...rest }) => rest),
        users: b.users.map(({ id, ...rest }) => rest),
      });
      assert.deepEqual(comparable(fromJson), comparable(fromYaml));
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("refuses a file it cannot read, naming the file and the OS reason", async () => {
    await assert.rejects(parseRealmFile("examples/no-such-realm.yaml"), (error: unknown) => {
      assert.ok(error instanceof RealmFileError);
      assert.match(
        error.message,
        /^examples\/no-such-realm\.yaml: cannot read the file: ENOENT: no such file or directory/,
      );
      return true;
    });
  });

  it("refuses a directory", async () => {
    await assert.rejects(parseRealmFile("examples"), /^RealmFileError: examples: cannot read the file: EISDIR/);
  });
});

describe("parseRealmDocument: YAML", () => {
  it("refuses a syntax error with its line and column, quoting no source text", async () => {
    const text = `realm: test\nclients:\n  - clientId: gateway\n    secret: "${SECRETS[0]}\n`;
    await assertRefused(text, "", ["YAML syntax error at line 5, column 1", "Missing closing"]);
  });

  it("refuses a duplicate key", async () => {
    await assertRefused("realm: test\nrealm: other\n", "", ["line 2, column 1", "unique"]);
  });

  it("refuses several documents in one file", async () => {
    await assertRefused("realm: a\n---\nrealm: b\n", "", ["line 2", "multiple documents"]);
  });

  it("refuses alias expansion beyond reason", async () => {
    const text = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      ...Array.from({ length: 8 }, (_, i) => {
        const prev = i === 0 ? "a" : `l${i - 1}`;
        return `l${i}: &l${i} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`;
      }),
    ].join("\n");
    await assertRefused(text, "", ["YAML error", "alias"]);
  });

  it("refuses an empty document", async () => {
    await assertRefused("", "", ["expected a mapping, got null"]);
  });
});

describe("parseRealmDocument: shape", () => {
  it("names the file, the key path and the expected values of an enum", async () => {
    const doc = validDoc();
    doc.clients.push({ clientId: "x", secret: "x-secret", tokenExchange: { scopePolicy: "up" } });
    const message = await assertDocRefused(doc, "clients[3].tokenExchange.scopePolicy", [
      "expected one of downscope | requester",
      'got "up"',
    ]);
    assert.equal(
      message,
      'realm.yaml: clients[3].tokenExchange.scopePolicy: expected one of downscope | requester, got "up"',
    );
  });

  it("refuses an unknown key at the top, naming the keys it accepts", async () => {
    await assertDocRefused({ ...validDoc(), realmName: "x" }, "realmName", [
      "unknown key",
      "realm, enabled, accessTokenLifespan",
    ]);
  });

  it("refuses an unknown key in a client", async () => {
    const doc = validDoc();
    doc.clients[0].secrets = "x";
    await assertDocRefused(doc, "clients[0].secrets", ["unknown key", "secret"]);
  });

  it("refuses an unknown key in tokenExchange, a scope, a user and jwks", async () => {
    const withTx = validDoc();
    withTx.clients[0].tokenExchange = { enabled: true, impersonate: true };
    await assertDocRefused(withTx, "clients[0].tokenExchange.impersonate", [
      "unknown key",
      "enabled, refreshTokens, scopePolicy",
    ]);
    await assertDocRefused({ ...validDoc(), scopes: [{ name: "a", audience: [] }] }, "scopes[0].audience", [
      "unknown key",
    ]);
    await assertDocRefused({ ...validDoc(), users: [{ username: "a", mail: "a@x" }] }, "users[0].mail", [
      "unknown key",
    ]);
    const withJwks = validDoc();
    withJwks.clients.push({ clientId: "j", jwks: { keys: [], extra: 1 } });
    await assertDocRefused(withJwks, "clients[3].jwks.extra", ["unknown key"]);
  });

  it("refuses a missing required key", async () => {
    const doc = validDoc();
    delete doc.clients[1].clientId;
    await assertDocRefused(doc, "clients[1].clientId", ["required, expected a string"]);
    const { realm: _realm, ...noRealm } = validDoc();
    await assertDocRefused(noRealm, "realm", ["required"]);
  });

  it("refuses a wrong type by its type, never echoing a secret value", async () => {
    const doc = validDoc();
    doc.clients[0].secret = 4817263;
    const message = await assertDocRefused(doc, "clients[0].secret", ["expected a string, got a number"]);
    assert.ok(!message.includes("4817263"));
  });

  it("refuses an empty secret", async () => {
    const doc = validDoc();
    doc.clients[0].secret = "";
    await assertDocRefused(doc, "clients[0].secret", ["expected a non-empty string"]);
  });

  it("refuses a wrong type deep in a list", async () => {
    await assertDocRefused(
      { ...validDoc(), scopes: [{ name: "a", audiences: ["gateway", 7] }] },
      "scopes[0].audiences[1]",
      ["expected a string"],
    );
    const doc = validDoc();
    doc.clients[0].serviceAccount = "yes";
    await assertDocRefused(doc, "clients[0].serviceAccount", ["expected true or false, got a string"]);
  });

  it("refuses an unknown auth method and signing algorithm", async () => {
    const doc = validDoc();
    doc.clients[0].authMethods = ["client_secret_jwt"];
    await assertDocRefused(doc, "clients[0].authMethods[0]", [
      "expected one of client_secret_basic | client_secret_post | private_key_jwt",
    ]);
    await assertDocRefused({ ...validDoc(), signingAlgorithm: "HS256" }, "signingAlgorithm", [
      "expected one of ES256 | RS256 | PS256 | EdDSA",
    ]);
  });

  it("refuses a user attribute that is neither a string nor a list of strings", async () => {
    await assertDocRefused(
      { ...validDoc(), users: [{ username: "a", attributes: { n: 1 } }] },
      "users[0].attributes.n",
      ["expected a string or a list of strings"],
    );
  });

  it("reports the first problem and how many more", async () => {
    const doc = { ...validDoc(), enabled: "no", signingAlgorithm: "none" };
    const message = await assertDocRefused(doc, "enabled", ["(and 1 more)"]);
    assert.match(message, /^realm\.yaml: enabled: expected true or false, got a string \(and 1 more\)$/);
  });
});
