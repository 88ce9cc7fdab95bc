import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { verifyClientSecret } from "../../src/crypto/client-secrets.js";
import { REALM_DEFAULTS, TOKEN_EXCHANGE_DEFAULTS } from "../../src/domain/index.js";
import { ecJwks, parseDoc, SECRETS, validDoc } from "./fixtures.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("realm file to domain objects", () => {
  it("fills realm settings from REALM_DEFAULTS", async () => {
    const { realm } = await parseDoc({ realm: "bare" });
    assert.deepEqual(realm, { name: "bare", ...REALM_DEFAULTS });
  });

  it("keeps realm settings that are given", async () => {
    const doc = {
      realm: "r",
      enabled: false,
      accessTokenLifespan: 60,
      refreshTokenLifespan: 600,
      signingAlgorithm: "EdDSA",
      sessionIdleTimeout: 120,
      sessionMaxLifespan: 7200,
      maxDelegationDepth: 2,
    };
    const { realm } = await parseDoc(doc);
    assert.deepEqual(realm, {
      name: "r",
      enabled: false,
      accessTokenLifespan: 60,
      refreshTokenLifespan: 600,
      signingAlgorithm: "EdDSA",
      sessionIdleTimeout: 120,
      sessionMaxLifespan: 7200,
      maxDelegationDepth: 2,
    });
  });

  it("hashes secrets as argon2id PHC strings and keeps no plain secret anywhere", async () => {
    const bundle = await parseDoc(validDoc());
    const [gateway, orders] = bundle.clients;
    assert.match(gateway.secretHash ?? "", /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
    assert.notEqual(gateway.secretHash, orders.secretHash);
    assert.equal(await verifyClientSecret(gateway.secretHash, SECRETS[0]), true);
    assert.equal(await verifyClientSecret(orders.secretHash, SECRETS[1]), true);
    const everything = JSON.stringify(bundle);
    for (const secret of SECRETS) assert.ok(!everything.includes(secret));
    assert.ok(!("secret" in gateway));
  });

  it("gives a confidential client with a secret client_secret_basic and client_secret_post", async () => {
    const { clients } = await parseDoc(validDoc());
    assert.deepEqual(clients[0].authMethods, ["client_secret_basic", "client_secret_post"]);
    assert.equal(clients[0].publicClient, false);
  });

  it("gives a client with jwks or jwksUri private_key_jwt", async () => {
    const doc = validDoc();
    doc.clients.push(
      { clientId: "batch", jwks: { keys: [ecJwks().publicJwk] }, serviceAccount: true },
      { clientId: "remote", jwksUri: "https://keys.example.com/jwks.json" },
    );
    const { clients } = await parseDoc(doc);
    assert.deepEqual(clients[3].authMethods, ["private_key_jwt"]);
    assert.equal(clients[3].jwks?.keys[0].kid, "k1");
    assert.equal(clients[3].secretHash, undefined);
    assert.deepEqual(clients[4].authMethods, ["private_key_jwt"]);
    assert.equal(clients[4].jwksUri, "https://keys.example.com/jwks.json");
  });

  it("keeps authMethods that are given", async () => {
    const doc = validDoc();
    doc.clients[0].authMethods = ["client_secret_post"];
    const { clients } = await parseDoc(doc);
    assert.deepEqual(clients[0].authMethods, ["client_secret_post"]);
  });

  it("makes public: true a public client with no methods and no credentials", async () => {
    const { clients } = await parseDoc(validDoc());
    const cli = clients[2];
    assert.equal(cli.publicClient, true);
    assert.deepEqual(cli.authMethods, []);
    assert.equal(cli.secretHash, undefined);
    assert.equal(cli.serviceAccount, false);
  });

  it("fills client defaults: enabled, no service account, no scopes or resources, TOKEN_EXCHANGE_DEFAULTS", async () => {
    const { clients } = await parseDoc(validDoc());
    const orders = clients[1];
    assert.equal(orders.enabled, true);
    assert.equal(orders.serviceAccount, false);
    assert.deepEqual([orders.defaultScopes, orders.optionalScopes], [[], []]);
    assert.deepEqual(orders.tokenExchange, TOKEN_EXCHANGE_DEFAULTS);
    assert.deepEqual(clients[0].tokenExchange, { ...TOKEN_EXCHANGE_DEFAULTS, enabled: true });
  });

  it("keeps every tokenExchange setting that is given", async () => {
    const doc = validDoc();
    doc.clients[0].tokenExchange = {
      enabled: true,
      refreshTokens: "same_session",
      scopePolicy: "requester",
      delegation: true,
      mayAct: "orders-api",
      impersonation: { users: ["alice"] },
    };
    const { clients } = await parseDoc(doc);
    assert.deepEqual(clients[0].tokenExchange, {
      enabled: true,
      refreshTokens: "same_session",
      scopePolicy: "requester",
      delegation: true,
      mayAct: "orders-api",
      impersonation: { allUsers: false, users: ["alice"] },
      identityProviders: [],
    });
  });

  it("gives each client a fresh service-account user id", async () => {
    const first = await parseDoc(validDoc());
    const second = await parseDoc(validDoc());
    const ids = [...first.clients, ...second.clients].map((c) => c.serviceAccountUserId);
    for (const id of ids) assert.match(id, UUID);
    assert.equal(new Set(ids).size, ids.length);
  });

  it("keeps scope audiences and descriptions, defaulting audiences to none", async () => {
    const { scopes } = await parseDoc({
      ...validDoc(),
      scopes: [...(validDoc().scopes as object[]), { name: "x", description: "X" }],
    });
    assert.deepEqual(scopes, [
      { name: "orders.read", audiences: ["orders-api"] },
      { name: "profile", audiences: [] },
      { name: "x", audiences: [], description: "X" },
    ]);
  });

  it("gives users an id, enabled by default, and string-list attributes", async () => {
    const doc = {
      ...validDoc(),
      users: [
        { username: "alice", attributes: { dept: "sales", roles: ["a", "b"] } },
        { id: "3c9d0e4a-0000-4000-8000-000000000001", username: "bob", email: "bob@example.com", enabled: false },
      ],
    };
    const { users } = await parseDoc(doc);
    assert.match(users[0].id, UUID);
    assert.deepEqual(
      { ...users[0], id: "" },
      { id: "", username: "alice", enabled: true, attributes: { dept: ["sales"], roles: ["a", "b"] } },
    );
    assert.deepEqual(users[1], {
      id: "3c9d0e4a-0000-4000-8000-000000000001",
      username: "bob",
      email: "bob@example.com",
      enabled: false,
      attributes: {},
    });
  });
});
