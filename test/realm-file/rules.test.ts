import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Client } from "../../src/domain/index.js";
import { validateClient, validateRealmBundle, validateScope } from "../../src/realm-file/index.js";
import { assertDocRefused, ecJwks, parseDoc, SECRETS, validDoc, type Doc } from "./fixtures.js";

/** The valid document with one more client appended (it becomes clients[3]). */
function withClient(client: Record<string, unknown>): Doc {
  const doc = validDoc();
  doc.clients.push(client);
  return doc;
}

describe("realm rules", () => {
  it("accepts the valid document", async () => {
    const bundle = await parseDoc(validDoc());
    assert.deepEqual(validateRealmBundle(bundle), []);
  });

  it("refuses a realm name that is not a URL path segment", async () => {
    for (const name of ["has space", "a/b", "-lead", "", "x".repeat(65)]) {
      await assertDocRefused({ ...validDoc(), realm: name }, "realm", ["expected 1-64 letters, digits"]);
    }
  });

  it("refuses lifespans that are not positive integers", async () => {
    for (const value of [0, -5, 1.5]) {
      await assertDocRefused({ ...validDoc(), accessTokenLifespan: value }, "accessTokenLifespan", [
        "expected a positive integer (seconds)",
        `got ${value}`,
      ]);
      await assertDocRefused({ ...validDoc(), refreshTokenLifespan: value }, "refreshTokenLifespan", [
        "expected a positive integer",
      ]);
    }
  });

  it("takes users' links to the realm's identity providers; refuses an unknown alias, an identity linked twice, two links to one provider", async () => {
    const provider = { alias: "corp", issuer: "https://corp.example", jwksUri: "https://corp.example/jwks", audiences: ["tessera"] };
    const withLinks = (users: Record<string, unknown>[]) => ({ ...validDoc(), identityProviders: [provider], users });
    const bundle = await parseDoc(withLinks([{ username: "alice", links: [{ alias: "corp", externalUserId: "c-1" }] }]));
    assert.deepEqual(bundle.links, [{ userId: bundle.users[0].id, alias: "corp", externalUserId: "c-1" }]);
    await assertDocRefused(withLinks([{ username: "alice", links: [{ alias: "nope", externalUserId: "c-1" }] }]), "users[0].links[0].alias", [
      'expected the alias of an identity provider of the realm, got "nope"',
    ]);
    await assertDocRefused(
      withLinks([
        { username: "alice", links: [{ alias: "corp", externalUserId: "c-1" }] },
        { username: "bob", links: [{ alias: "corp", externalUserId: "c-1" }] },
      ]),
      "users[1].links[0].externalUserId",
      ["expected one user per identity at corp"],
    );
    await assertDocRefused(withLinks([{ username: "alice", links: [{ alias: "corp", externalUserId: "c-1" }, { alias: "corp", externalUserId: "c-2" }] }]), "users[0].links[1]", [
      "expected at most one link per identity provider",
    ]);
  });

  it("refuses duplicate client ids, scope names, usernames and user ids", async () => {
    await assertDocRefused(withClient({ clientId: "gateway", public: true }), "clients[3].clientId", [
      'expected a unique clientId, got "gateway" as in clients[0]',
    ]);
    const scopes = validDoc();
    scopes.scopes = [{ name: "profile" }, { name: "a" }, { name: "profile" }];
    await assertDocRefused(scopes, "scopes[2].name", ['got "profile" as in scopes[0]']);
    await assertDocRefused({ ...validDoc(), users: [{ username: "a" }, { username: "a" }] }, "users[1].username", [
      "expected a unique username",
    ]);
    await assertDocRefused(
      {
        ...validDoc(),
        users: [
          { id: "u1", username: "a" },
          { id: "u1", username: "b" },
        ],
      },
      "users[1].id",
      ["expected a unique id"],
    );
  });

  it("refuses empty client ids, usernames and user ids", async () => {
    await assertDocRefused(withClient({ clientId: "", public: true }), "clients[3].clientId", [
      "expected a non-empty string",
    ]);
    await assertDocRefused({ ...validDoc(), users: [{ username: "" }] }, "users[0].username", [
      "expected a non-empty string",
    ]);
    await assertDocRefused({ ...validDoc(), users: [{ id: "", username: "a" }] }, "users[0].id", [
      "expected a non-empty string",
    ]);
  });

  it("refuses a scope name that is not an RFC 6749 scope token", async () => {
    for (const name of ["", "two words", 'quo"te']) {
      await assertDocRefused({ ...validDoc(), scopes: [{ name }], clients: [] }, "scopes[0].name", [
        "expected a scope token",
      ]);
    }
  });

  it("refuses a client scope that does not exist", async () => {
    const doc = validDoc();
    doc.clients[0].defaultScopes = ["profile", "email"];
    await assertDocRefused(doc, "clients[0].defaultScopes[1]", [
      'expected the name of a scope of the realm, got "email"',
    ]);
    const optional = validDoc();
    optional.clients[0].optionalScopes = ["orders.wrte"];
    await assertDocRefused(optional, "clients[0].optionalScopes[0]", ['got "orders.wrte"']);
  });

  it("refuses a scope named twice by one client", async () => {
    const doc = validDoc();
    doc.clients[0].optionalScopes = ["orders.read", "profile"];
    await assertDocRefused(doc, "clients[0].optionalScopes[1]", ['expected each scope once, got "profile" again']);
  });

  it("refuses a scope audience that names no client", async () => {
    const doc = validDoc();
    doc.scopes = [{ name: "orders.read", audiences: ["orders-api", "billing-api"] }, { name: "profile" }];
    await assertDocRefused(doc, "scopes[0].audiences[1]", [
      'expected the client id of a client of the realm, got "billing-api"',
    ]);
  });
});

describe("client credential rules", () => {
  it("refuses a secret on a public client without quoting it", async () => {
    const doc = validDoc();
    doc.clients[2].secret = SECRETS[0];
    await assertDocRefused(doc, "clients[2].secret", ["expected none on a public client"]);
  });

  it("refuses keys, auth methods or a service account on a public client", async () => {
    await assertDocRefused(
      withClient({ clientId: "p", public: true, jwksUri: "https://k.example.com" }),
      "clients[3].jwksUri",
      ["expected none on a public client"],
    );
    await assertDocRefused(
      withClient({ clientId: "p", public: true, jwks: { keys: [ecJwks().publicJwk] } }),
      "clients[3].jwks",
      ["expected none"],
    );
    await assertDocRefused(
      withClient({ clientId: "p", public: true, authMethods: ["client_secret_basic"] }),
      "clients[3].authMethods",
      ["client_id alone"],
    );
    await assertDocRefused(
      withClient({ clientId: "p", public: true, serviceAccount: true }),
      "clients[3].serviceAccount",
      ["expected false on a public client"],
    );
  });

  it("refuses a confidential client without credentials, even a disabled one", async () => {
    for (const client of [{ clientId: "c" }, { clientId: "c", enabled: false }]) {
      await assertDocRefused(withClient(client), "clients[3]", [
        "expected credentials on a confidential client: secret, jwks, jwksUri or tlsClientAuthSubjectDn",
      ]);
    }
  });

  it("refuses private_key_jwt without jwks or jwksUri", async () => {
    await assertDocRefused(
      withClient({ clientId: "c", secret: SECRETS[0], authMethods: ["private_key_jwt"] }),
      "clients[3].authMethods[0]",
      ["private_key_jwt expects jwks or jwksUri"],
    );
  });

  it("refuses client_secret_basic or client_secret_post without a secret", async () => {
    const jwksUri = "https://k.example.com/jwks";
    await assertDocRefused(
      withClient({ clientId: "c", jwksUri, authMethods: ["private_key_jwt", "client_secret_post"] }),
      "clients[3].authMethods[1]",
      ["client_secret_post expects a secret"],
    );
    await assertDocRefused(
      withClient({ clientId: "c", jwksUri, authMethods: ["client_secret_basic"] }),
      "clients[3].authMethods[0]",
      ["client_secret_basic expects a secret"],
    );
  });

  it("refuses a confidential client with no auth methods", async () => {
    await assertDocRefused(
      withClient({ clientId: "c", secret: SECRETS[0], authMethods: [] }),
      "clients[3].authMethods",
      ["expected at least one method"],
    );
  });

  it("refuses jwks and jwksUri together", async () => {
    const client = { clientId: "c", jwks: { keys: [ecJwks().publicJwk] }, jwksUri: "https://k.example.com/jwks" };
    await assertDocRefused(withClient(client), "clients[3].jwksUri", ["expected either jwks or jwksUri, not both"]);
  });

  it("refuses a private key in jwks without quoting it", async () => {
    const { privateJwk } = ecJwks();
    const message = await assertDocRefused(
      withClient({ clientId: "c", jwks: { keys: [privateJwk] } }),
      "clients[3].jwks.keys[0]",
      ["expected a public key", '"d"'],
    );
    assert.ok(!message.includes(String(privateJwk.d)));
  });

  it("refuses a symmetric key, an unknown kty and a key that does not import", async () => {
    const { publicJwk } = ecJwks();
    await assertDocRefused(
      withClient({ clientId: "c", jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } }),
      "clients[3].jwks.keys[0]",
      ["expected a public key"],
    );
    await assertDocRefused(withClient({ clientId: "c", jwks: { keys: [{ kty: "XYZ" }] } }), "clients[3].jwks.keys[0]", [
      'expected kty EC | RSA | OKP, got "XYZ"',
    ]);
    const offCurve = { ...publicJwk, y: publicJwk.x };
    await assertDocRefused(
      withClient({ clientId: "c", jwks: { keys: [publicJwk, offCurve] } }),
      "clients[3].jwks.keys[1]",
      ["expected a valid EC public JWK"],
    );
    await assertDocRefused(
      withClient({ clientId: "c", jwks: { keys: [{ kty: "RSA", n: "AQAB" }] } }),
      "clients[3].jwks.keys[0]",
      ["expected a valid RSA public JWK"],
    );
  });

  it("refuses an empty jwks", async () => {
    await assertDocRefused(withClient({ clientId: "c", jwks: { keys: [] } }), "clients[3].jwks.keys", [
      "expected at least one key",
    ]);
  });

  it("refuses a jwksUri that is not an absolute http(s) URL", async () => {
    for (const jwksUri of ["/jwks.json", "ftp://k.example.com/jwks", "not a url"]) {
      await assertDocRefused(withClient({ clientId: "c", jwksUri }), "clients[3].jwksUri", [
        "expected an absolute http(s) URL",
      ]);
    }
  });
});

describe("resource URI rules", () => {
  it("accepts any absolute URI without fragment", async () => {
    const doc = validDoc();
    doc.clients[1].resourceUris = ["https://orders.example.com/v1", "urn:example:orders"];
    const { clients } = await parseDoc(doc);
    assert.deepEqual(clients[1].resourceUris, ["https://orders.example.com/v1", "urn:example:orders"]);
  });

  it("refuses a relative URI or one with a fragment", async () => {
    for (const uri of ["/orders", "orders.example.com", "https://orders.example.com/#top"]) {
      const doc = validDoc();
      doc.clients[1].resourceUris = [uri];
      await assertDocRefused(doc, "clients[1].resourceUris[0]", ["expected an absolute URI without fragment"]);
    }
  });

  it("refuses a resource URI claimed by two clients", async () => {
    const doc = validDoc();
    doc.clients[0].resourceUris = ["https://gw.example.com"];
    doc.clients.push({
      clientId: "shadow",
      secret: SECRETS[1],
      resourceUris: ["https://gw.example.com", "https://orders.example.com"],
    });
    const message = await assertDocRefused(doc, "clients[3].resourceUris[0]", [
      'expected a URI no other client holds, got "https://gw.example.com" of client "gateway"',
    ]);
    assert.ok(message.endsWith("(and 1 more)"));
  });

  it("refuses a resource URI listed twice by one client", async () => {
    const doc = validDoc();
    doc.clients[1].resourceUris = ["https://orders.example.com", "https://orders.example.com"];
    await assertDocRefused(doc, "clients[1].resourceUris[1]", ["expected each URI once"]);
  });
});

describe("rules reused outside the realm file", () => {
  const client: Client = {
    clientId: "new-api",
    enabled: true,
    publicClient: false,
    authMethods: ["client_secret_basic"],
    secretHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
    serviceAccount: false,
    serviceAccountUserId: "8b0e7c1e-5b1a-4f9e-9d55-3f9b7c0e2a11",
    defaultScopes: ["profile"],
    optionalScopes: [],
    resourceUris: ["https://new.example.com"],
    tokenExchange: { enabled: false, refreshTokens: "none", scopePolicy: "downscope", delegation: false, identityProviders: [] },
  };

  it("validateClient accepts a client that fits its realm", () => {
    const context = {
      scopeNames: new Set(["profile"]),
      clientIds: new Set(["new", "other"]),
      providerAliases: new Set<string>(),
      claimedResourceUris: new Map([["https://other.example.com", "other"]]),
    };
    assert.deepEqual(validateClient(client, context), []);
  });

  it("validateClient names each field path relative to the client", () => {
    const context = {
      scopeNames: new Set<string>(),
      clientIds: new Set<string>(),
      providerAliases: new Set<string>(),
      claimedResourceUris: new Map([["https://new.example.com", "other"]]),
    };
    const issues = validateClient({ ...client, secretHash: undefined }, context);
    assert.deepEqual(
      issues.map((i) => i.path),
      [[], ["defaultScopes", 0], ["resourceUris", 0]],
    );
  });

  it("validateScope checks audiences against the realm's clients", () => {
    const issues = validateScope(
      { name: "orders.read", audiences: ["orders-api"] },
      { clientIds: new Set(["gateway"]) },
    );
    assert.deepEqual(issues, [
      { path: ["audiences", 0], message: 'expected the client id of a client of the realm, got "orders-api"' },
    ]);
  });
});
