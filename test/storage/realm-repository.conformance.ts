import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Client, Realm, Scope, SigningKey, User } from "../../src/domain/index.js";
import {
  StorageConflictError,
  StorageNotFoundError,
  type RealmBundle,
  type RealmRepository,
} from "../../src/storage/realm-repository.js";

/** What an adapter's test file hands to {@link runRealmRepositoryConformance}. */
export interface OpenedRepository {
  repo: RealmRepository;
  /** Closes the repository (and whatever else `open` started). */
  cleanup(): Promise<void>;
}

/** A realm name no other test uses, so every test may share one database. */
const uniqueName = (prefix = "r"): string => `${prefix}-${randomUUID()}`;

function makeRealm(name = uniqueName(), overrides: Partial<Realm> = {}): Realm {
  return {
    name,
    enabled: true,
    accessTokenLifespan: 300,
    refreshTokenLifespan: 1800,
    signingAlgorithm: "ES256",
    ...overrides,
  };
}

function makeClient(clientId: string, overrides: Partial<Client> = {}): Client {
  return {
    clientId,
    enabled: true,
    publicClient: false,
    authMethods: ["client_secret_basic", "private_key_jwt"],
    secretHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
    jwks: {
      keys: [
        {
          kty: "EC",
          crv: "P-256",
          x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
          y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
          kid: "k1",
          "x5t#S256": "abc",
        },
      ],
    },
    serviceAccount: true,
    serviceAccountUserId: randomUUID(),
    defaultScopes: ["openid", "profile"],
    optionalScopes: ["email"],
    resourceUris: [`https://${clientId}.example.com/api`],
    tokenExchange: { enabled: true, refreshTokens: "same_session", scopePolicy: "downscope" },
    ...overrides,
  };
}

/** A public client: no credentials at all (the optional fields are absent, not `undefined`). */
function makePublicClient(clientId: string): Client {
  const client = makeClient(clientId, { publicClient: true, authMethods: [], serviceAccount: false });
  delete client.secretHash;
  delete client.jwks;
  return client;
}

function makeScope(name: string, overrides: Partial<Scope> = {}): Scope {
  return { name, audiences: ["api-a", "api-b"], description: `the ${name} scope`, ...overrides };
}

function makeUser(username: string, overrides: Partial<User> = {}): User {
  return {
    id: randomUUID(),
    username,
    email: `${username}@example.com`,
    enabled: true,
    attributes: { department: ["engineering"], groups: ["admins", "users"] },
    ...overrides,
  };
}

function makeKey(kid: string, createdAt: Date, overrides: Partial<SigningKey> = {}): SigningKey {
  return {
    kid,
    algorithm: "ES256",
    state: "active",
    publicJwk: { kty: "EC", crv: "P-256", x: "AAAA", y: "BBBB", kid, alg: "ES256", use: "sig" },
    encryptedPrivateJwk: "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ciphertext.tag",
    createdAt,
    ...overrides,
  };
}

function makeBundle(name = uniqueName()): RealmBundle {
  return {
    realm: makeRealm(name),
    clients: [makeClient("web"), makePublicClient("api")],
    scopes: [makeScope("openid"), makeScope("orders:read")],
    users: [makeUser("alice"), makeUser("bob")],
  };
}

/**
 * The one test suite every {@link RealmRepository} adapter passes (after dex's `storage/conformance`).
 * `open` is called once; tests use unique realm names, so they share one repository and database.
 */
export function runRealmRepositoryConformance(name: string, open: () => Promise<OpenedRepository>): void {
  describe(`RealmRepository conformance: ${name}`, () => {
    let repo: RealmRepository;
    let cleanup: () => Promise<void> = async () => {};

    before(async () => {
      ({ repo, cleanup } = await open());
    });
    after(async () => {
      await cleanup();
    });

    /** Creates a fresh realm and returns its name. */
    async function newRealm(): Promise<string> {
      const realm = makeRealm();
      await repo.createRealm(realm);
      return realm.name;
    }

    describe("realms", () => {
      it("createRealm then getRealm returns an equal realm", async () => {
        const realm = makeRealm(uniqueName(), { enabled: false, accessTokenLifespan: 60, signingAlgorithm: "EdDSA" });
        await repo.createRealm(realm);
        assert.deepEqual(await repo.getRealm(realm.name), realm);
      });

      it("createRealm when name exists then StorageConflictError", async () => {
        const realm = makeRealm();
        await repo.createRealm(realm);
        await assert.rejects(repo.createRealm(makeRealm(realm.name, { accessTokenLifespan: 1 })), StorageConflictError);
        assert.equal((await repo.getRealm(realm.name))?.accessTokenLifespan, 300);
      });

      it("getRealm when name unknown then undefined", async () => {
        assert.equal(await repo.getRealm(uniqueName()), undefined);
      });

      it("listRealms returns every realm sorted by name", async () => {
        const tag = randomUUID();
        const names = [`c-${tag}`, `a-${tag}`, `b-${tag}`];
        for (const n of names) await repo.createRealm(makeRealm(n));
        const all = await repo.listRealms();
        const mine = all.filter((r) => r.name.endsWith(tag));
        assert.deepEqual(mine, [...names].sort().map((n) => makeRealm(n)));
        const allNames = all.map((r) => r.name);
        assert.deepEqual(allNames, [...allNames].sort());
      });

      it("updateRealm replaces the realm's settings", async () => {
        const name = await newRealm();
        const changed = makeRealm(name, { enabled: false, refreshTokenLifespan: 99, signingAlgorithm: "RS256" });
        await repo.updateRealm(changed);
        assert.deepEqual(await repo.getRealm(name), changed);
      });

      it("updateRealm when realm unknown then StorageNotFoundError", async () => {
        await assert.rejects(repo.updateRealm(makeRealm()), StorageNotFoundError);
      });

      it("deleteRealm when realm exists then true and the realm is gone", async () => {
        const name = await newRealm();
        assert.equal(await repo.deleteRealm(name), true);
        assert.equal(await repo.getRealm(name), undefined);
        assert.ok(!(await repo.listRealms()).some((r) => r.name === name));
      });

      it("deleteRealm when realm unknown then false", async () => {
        assert.equal(await repo.deleteRealm(uniqueName()), false);
      });

      it("deleteRealm removes every client, scope, user, signing key and used jti of the realm", async () => {
        const bundle = makeBundle();
        const name = bundle.realm.name;
        await repo.importRealm(bundle);
        await repo.addSigningKey(name, makeKey("k1", new Date()));
        const expiresAt = new Date(Date.now() + 60_000);
        assert.equal(await repo.consumeJti(name, "web", "jti-1", expiresAt), true);

        assert.equal(await repo.deleteRealm(name), true);
        assert.equal(await repo.getClient(name, "web"), undefined);
        assert.deepEqual(await repo.listClients(name), []);
        assert.deepEqual(await repo.listScopes(name), []);
        assert.equal(await repo.getUser(name, bundle.users[0].id), undefined);
        assert.equal(await repo.findUserByUsername(name, "alice"), undefined);
        assert.deepEqual(await repo.listSigningKeys(name), []);

        // A new realm of the same name starts empty and inherits nothing.
        await repo.createRealm(makeRealm(name));
        assert.deepEqual(await repo.listClients(name), []);
        assert.deepEqual(await repo.listScopes(name), []);
        assert.equal(await repo.findUserByUsername(name, "alice"), undefined);
        assert.deepEqual(await repo.listSigningKeys(name), []);
        assert.equal(await repo.consumeJti(name, "web", "jti-1", expiresAt), true);
      });
    });

    describe("importRealm", () => {
      it("importRealm stores the realm with every client, scope and user", async () => {
        const bundle = makeBundle();
        const name = bundle.realm.name;
        await repo.importRealm(bundle);
        assert.deepEqual(await repo.getRealm(name), bundle.realm);
        const [web, api] = bundle.clients;
        assert.deepEqual(await repo.listClients(name), [api, web]);
        assert.deepEqual(await repo.listScopes(name), bundle.scopes);
        for (const user of bundle.users) {
          assert.deepEqual(await repo.getUser(name, user.id), user);
          assert.deepEqual(await repo.findUserByUsername(name, user.username), user);
        }
      });

      it("importRealm when a client id repeats inside the bundle then StorageConflictError and no realm is left behind", async () => {
        const bundle = makeBundle();
        const name = bundle.realm.name;
        bundle.clients.push(makeClient("web"));
        await assert.rejects(repo.importRealm(bundle), StorageConflictError);
        assert.equal(await repo.getRealm(name), undefined);
        assert.ok(!(await repo.listRealms()).some((r) => r.name === name));
        assert.equal(await repo.getClient(name, "web"), undefined);
        assert.deepEqual(await repo.listClients(name), []);
        assert.deepEqual(await repo.listScopes(name), []);
        assert.equal(await repo.findUserByUsername(name, "alice"), undefined);

        // The name is free again: a correct bundle imports.
        bundle.clients.pop();
        await repo.importRealm(bundle);
        assert.equal((await repo.listClients(name)).length, 2);
      });

      it("importRealm when a username repeats inside the bundle then StorageConflictError and nothing is stored", async () => {
        const bundle = makeBundle();
        bundle.users.push(makeUser("alice"));
        await assert.rejects(repo.importRealm(bundle), StorageConflictError);
        assert.equal(await repo.getRealm(bundle.realm.name), undefined);
        assert.deepEqual(await repo.listClients(bundle.realm.name), []);
        assert.deepEqual(await repo.listScopes(bundle.realm.name), []);
        assert.equal(await repo.getUser(bundle.realm.name, bundle.users[0].id), undefined);
      });

      it("importRealm when a scope name repeats inside the bundle then StorageConflictError and nothing is stored", async () => {
        const bundle = makeBundle();
        bundle.scopes.push(makeScope("openid"));
        await assert.rejects(repo.importRealm(bundle), StorageConflictError);
        assert.equal(await repo.getRealm(bundle.realm.name), undefined);
        assert.deepEqual(await repo.listClients(bundle.realm.name), []);
        assert.deepEqual(await repo.listScopes(bundle.realm.name), []);
      });

      it("importRealm when the realm exists then StorageConflictError and the first import stays intact", async () => {
        const first = makeBundle();
        const name = first.realm.name;
        await repo.importRealm(first);
        const second: RealmBundle = {
          realm: makeRealm(name, { accessTokenLifespan: 5 }),
          clients: [makeClient("other")],
          scopes: [makeScope("other")],
          users: [makeUser("carol")],
        };
        await assert.rejects(repo.importRealm(second), StorageConflictError);
        assert.deepEqual(await repo.getRealm(name), first.realm);
        assert.deepEqual((await repo.listClients(name)).map((c) => c.clientId), ["api", "web"]);
        assert.deepEqual((await repo.listScopes(name)).map((s) => s.name), ["openid", "orders:read"]);
        assert.equal(await repo.getClient(name, "other"), undefined);
        assert.equal(await repo.findUserByUsername(name, "carol"), undefined);
        assert.deepEqual(await repo.findUserByUsername(name, "alice"), first.users[0]);
      });
    });

    describe("clients", () => {
      it("createClient then getClient returns an equal client", async () => {
        const realm = await newRealm();
        const client = makeClient("web", { jwksUri: "https://web.example.com/jwks" });
        await repo.createClient(realm, client);
        assert.deepEqual(await repo.getClient(realm, "web"), client);
      });

      it("createClient when client id exists then StorageConflictError", async () => {
        const realm = await newRealm();
        await repo.createClient(realm, makeClient("web"));
        await assert.rejects(repo.createClient(realm, makeClient("web", { enabled: false })), StorageConflictError);
        assert.equal((await repo.getClient(realm, "web"))?.enabled, true);
      });

      it("createClient when realm unknown then StorageNotFoundError", async () => {
        const realm = uniqueName();
        await assert.rejects(repo.createClient(realm, makeClient("web")), StorageNotFoundError);
        assert.equal(await repo.getClient(realm, "web"), undefined);
      });

      it("getClient when client id unknown then undefined", async () => {
        const realm = await newRealm();
        assert.equal(await repo.getClient(realm, "nobody"), undefined);
        assert.equal(await repo.getClient(uniqueName(), "nobody"), undefined);
      });

      it("listClients returns the realm's clients sorted by client id", async () => {
        const realm = await newRealm();
        for (const id of ["m", "z", "a"]) await repo.createClient(realm, makeClient(id));
        assert.deepEqual((await repo.listClients(realm)).map((c) => c.clientId), ["a", "m", "z"]);
        assert.deepEqual(await repo.listClients(uniqueName()), []);
      });

      it("findClientByResourceUri returns the client naming the uri, else undefined", async () => {
        const realm = await newRealm();
        const client = makeClient("orders", { resourceUris: ["https://orders.example.com", "urn:orders"] });
        await repo.createClient(realm, client);
        await repo.createClient(realm, makeClient("billing"));
        assert.deepEqual(await repo.findClientByResourceUri(realm, "urn:orders"), client);
        assert.equal(await repo.findClientByResourceUri(realm, "urn:unknown"), undefined);
        assert.equal(await repo.findClientByResourceUri(uniqueName(), "urn:orders"), undefined);
      });

      it("updateClient replaces the client", async () => {
        const realm = await newRealm();
        await repo.createClient(realm, makeClient("web"));
        const changed = makeClient("web", { enabled: false, defaultScopes: [], resourceUris: ["urn:new"] });
        await repo.updateClient(realm, changed);
        assert.deepEqual(await repo.getClient(realm, "web"), changed);
      });

      it("updateClient when client unknown then StorageNotFoundError", async () => {
        const realm = await newRealm();
        await assert.rejects(repo.updateClient(realm, makeClient("ghost")), StorageNotFoundError);
        await assert.rejects(repo.updateClient(uniqueName(), makeClient("ghost")), StorageNotFoundError);
        assert.equal(await repo.getClient(realm, "ghost"), undefined);
      });

      it("deleteClient when client exists then true, then false", async () => {
        const realm = await newRealm();
        await repo.createClient(realm, makeClient("web"));
        assert.equal(await repo.deleteClient(realm, "web"), true);
        assert.equal(await repo.getClient(realm, "web"), undefined);
        assert.equal(await repo.deleteClient(realm, "web"), false);
        assert.equal(await repo.deleteClient(uniqueName(), "web"), false);
      });
    });

    describe("scopes", () => {
      it("createScope then getScope returns an equal scope", async () => {
        const realm = await newRealm();
        const scope = makeScope("orders:read");
        await repo.createScope(realm, scope);
        assert.deepEqual(await repo.getScope(realm, "orders:read"), scope);
      });

      it("createScope when name exists then StorageConflictError", async () => {
        const realm = await newRealm();
        await repo.createScope(realm, makeScope("openid"));
        await assert.rejects(repo.createScope(realm, makeScope("openid", { audiences: [] })), StorageConflictError);
        assert.deepEqual((await repo.getScope(realm, "openid"))?.audiences, ["api-a", "api-b"]);
      });

      it("createScope when realm unknown then StorageNotFoundError", async () => {
        await assert.rejects(repo.createScope(uniqueName(), makeScope("openid")), StorageNotFoundError);
      });

      it("getScope when name unknown then undefined", async () => {
        const realm = await newRealm();
        assert.equal(await repo.getScope(realm, "nothing"), undefined);
      });

      it("listScopes returns the realm's scopes sorted by name", async () => {
        const realm = await newRealm();
        for (const n of ["profile", "email", "openid"]) await repo.createScope(realm, makeScope(n));
        assert.deepEqual((await repo.listScopes(realm)).map((s) => s.name), ["email", "openid", "profile"]);
        assert.deepEqual(await repo.listScopes(uniqueName()), []);
      });

      it("updateScope replaces the scope", async () => {
        const realm = await newRealm();
        await repo.createScope(realm, makeScope("openid"));
        const changed: Scope = { name: "openid", audiences: ["only-this"] };
        await repo.updateScope(realm, changed);
        assert.deepEqual(await repo.getScope(realm, "openid"), changed);
      });

      it("updateScope when scope unknown then StorageNotFoundError", async () => {
        const realm = await newRealm();
        await assert.rejects(repo.updateScope(realm, makeScope("ghost")), StorageNotFoundError);
        await assert.rejects(repo.updateScope(uniqueName(), makeScope("ghost")), StorageNotFoundError);
      });

      it("deleteScope when scope exists then true, then false", async () => {
        const realm = await newRealm();
        await repo.createScope(realm, makeScope("openid"));
        assert.equal(await repo.deleteScope(realm, "openid"), true);
        assert.equal(await repo.getScope(realm, "openid"), undefined);
        assert.equal(await repo.deleteScope(realm, "openid"), false);
      });
    });

    describe("users", () => {
      it("createUser then getUser and findUserByUsername return an equal user", async () => {
        const realm = await newRealm();
        const user = makeUser("alice");
        await repo.createUser(realm, user);
        assert.deepEqual(await repo.getUser(realm, user.id), user);
        assert.deepEqual(await repo.findUserByUsername(realm, "alice"), user);
      });

      it("createUser when username exists then StorageConflictError", async () => {
        const realm = await newRealm();
        const alice = makeUser("alice");
        await repo.createUser(realm, alice);
        await assert.rejects(repo.createUser(realm, makeUser("alice")), StorageConflictError);
        assert.deepEqual(await repo.findUserByUsername(realm, "alice"), alice);
      });

      it("createUser when id exists then StorageConflictError", async () => {
        const realm = await newRealm();
        const alice = makeUser("alice");
        await repo.createUser(realm, alice);
        await assert.rejects(repo.createUser(realm, makeUser("bob", { id: alice.id })), StorageConflictError);
        assert.equal(await repo.findUserByUsername(realm, "bob"), undefined);
      });

      it("createUser when realm unknown then StorageNotFoundError", async () => {
        await assert.rejects(repo.createUser(uniqueName(), makeUser("alice")), StorageNotFoundError);
      });

      it("getUser and findUserByUsername when unknown then undefined", async () => {
        const realm = await newRealm();
        assert.equal(await repo.getUser(realm, randomUUID()), undefined);
        assert.equal(await repo.findUserByUsername(realm, "nobody"), undefined);
      });

      it("user attributes whose names hold '.' or start with '$' round trip", async () => {
        const realm = await newRealm();
        const user = makeUser("dot", { attributes: { "given.name": ["Ada"], $role: ["x"], "": ["empty"], none: [] } });
        await repo.createUser(realm, user);
        assert.deepEqual(await repo.getUser(realm, user.id), user);
      });
    });

    describe("realm isolation", () => {
      it("the same client id, scope name, username and kid may exist in two realms", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        for (const realm of [a, b]) {
          await repo.createClient(realm, makeClient("web"));
          await repo.createScope(realm, makeScope("openid"));
          await repo.createUser(realm, makeUser("alice"));
          await repo.addSigningKey(realm, makeKey("k1", new Date()));
        }
        assert.equal((await repo.listClients(b)).length, 1);
      });

      it("objects of realm A are never visible from realm B", async () => {
        const a = makeBundle();
        await repo.importRealm(a);
        await repo.addSigningKey(a.realm.name, makeKey("ka", new Date()));
        const b = await newRealm();
        assert.equal(await repo.getClient(b, "web"), undefined);
        assert.deepEqual(await repo.listClients(b), []);
        assert.equal(await repo.findClientByResourceUri(b, a.clients[0].resourceUris[0]), undefined);
        assert.equal(await repo.getScope(b, "openid"), undefined);
        assert.deepEqual(await repo.listScopes(b), []);
        assert.equal(await repo.getUser(b, a.users[0].id), undefined);
        assert.equal(await repo.findUserByUsername(b, "alice"), undefined);
        assert.deepEqual(await repo.listSigningKeys(b), []);
      });

      it("updateClient, updateScope and deletes in realm B never touch realm A's objects of the same key", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        const client = makeClient("web");
        const scope = makeScope("openid");
        await repo.createClient(a, client);
        await repo.createScope(a, scope);
        await assert.rejects(repo.updateClient(b, makeClient("web", { enabled: false })), StorageNotFoundError);
        await assert.rejects(repo.updateScope(b, makeScope("openid", { audiences: [] })), StorageNotFoundError);
        assert.equal(await repo.deleteClient(b, "web"), false);
        assert.equal(await repo.deleteScope(b, "openid"), false);
        assert.deepEqual(await repo.getClient(a, "web"), client);
        assert.deepEqual(await repo.getScope(a, "openid"), scope);
      });

      it("deleteRealm of realm B leaves realm A's objects in place", async () => {
        const a = makeBundle();
        const b = makeBundle();
        await repo.importRealm(a);
        await repo.importRealm(b);
        await repo.deleteRealm(b.realm.name);
        assert.equal((await repo.listClients(a.realm.name)).length, 2);
        assert.deepEqual(await repo.findUserByUsername(a.realm.name, "alice"), a.users[0]);
      });
    });

    describe("copies", () => {
      it("mutating a returned object changes nothing stored", async () => {
        const realm = makeRealm();
        await repo.createRealm(realm);
        const client = makeClient("web");
        const user = makeUser("alice");
        const key = makeKey("k1", new Date());
        await repo.createClient(realm.name, client);
        await repo.createScope(realm.name, makeScope("openid"));
        await repo.createUser(realm.name, user);
        await repo.addSigningKey(realm.name, key);

        const gotRealm = await repo.getRealm(realm.name);
        const gotClient = await repo.getClient(realm.name, "web");
        const gotScope = await repo.getScope(realm.name, "openid");
        const gotUser = await repo.getUser(realm.name, user.id);
        const [gotKey] = await repo.listSigningKeys(realm.name);
        assert.ok(gotRealm && gotClient && gotScope && gotUser && gotKey);
        gotRealm.enabled = false;
        gotClient.defaultScopes.push("admin");
        gotClient.tokenExchange.scopePolicy = "requester";
        gotScope.audiences.length = 0;
        gotUser.attributes.groups.push("root");
        gotKey.publicJwk.kid = "changed";
        gotKey.createdAt.setTime(0);

        assert.deepEqual(await repo.getRealm(realm.name), realm);
        assert.deepEqual(await repo.getClient(realm.name, "web"), client);
        assert.deepEqual((await repo.listClients(realm.name))[0], client);
        assert.deepEqual(await repo.getScope(realm.name, "openid"), makeScope("openid"));
        assert.deepEqual(await repo.getUser(realm.name, user.id), user);
        assert.deepEqual(await repo.listSigningKeys(realm.name), [key]);
      });

      it("mutating an object after passing it in changes nothing stored", async () => {
        const bundle = makeBundle();
        const expected = structuredClone(bundle);
        await repo.importRealm(bundle);
        const client = makeClient("later");
        const expectedClient = structuredClone(client);
        await repo.createClient(bundle.realm.name, client);

        bundle.realm.accessTokenLifespan = 1;
        bundle.clients[0].authMethods.length = 0;
        bundle.users[0].attributes.department = ["sales"];
        client.resourceUris.push("urn:mutated");

        assert.deepEqual(await repo.getRealm(bundle.realm.name), expected.realm);
        assert.deepEqual(await repo.getClient(bundle.realm.name, "web"), expected.clients[0]);
        assert.deepEqual(await repo.getUser(bundle.realm.name, expected.users[0].id), expected.users[0]);
        assert.deepEqual(await repo.getClient(bundle.realm.name, "later"), expectedClient);
      });
    });

    describe("signing keys", () => {
      it("listSigningKeys returns the realm's keys newest first by createdAt", async () => {
        const realm = await newRealm();
        const base = Date.now();
        const oldest = makeKey("oldest", new Date(base - 3_000), { state: "retired" });
        const newest = makeKey("newest", new Date(base));
        const middle = makeKey("middle", new Date(base - 1_000), { state: "passive" });
        for (const key of [oldest, newest, middle]) await repo.addSigningKey(realm, key);
        assert.deepEqual(await repo.listSigningKeys(realm), [newest, middle, oldest]);
      });

      it("addSigningKey when kid exists then StorageConflictError", async () => {
        const realm = await newRealm();
        const key = makeKey("k1", new Date());
        await repo.addSigningKey(realm, key);
        const again = makeKey("k1", new Date(), { state: "passive" });
        await assert.rejects(repo.addSigningKey(realm, again), StorageConflictError);
        assert.deepEqual(await repo.listSigningKeys(realm), [key]);
      });

      it("addSigningKey when realm unknown then StorageNotFoundError", async () => {
        await assert.rejects(repo.addSigningKey(uniqueName(), makeKey("k1", new Date())), StorageNotFoundError);
      });

      it("listSigningKeys when realm has no keys then empty", async () => {
        assert.deepEqual(await repo.listSigningKeys(await newRealm()), []);
      });

      it("Dates come back as Date instances with the same millisecond", async () => {
        const realm = await newRealm();
        const createdAt = new Date("2024-02-29T23:59:59.123Z");
        await repo.addSigningKey(realm, makeKey("k1", createdAt));
        const [key] = await repo.listSigningKeys(realm);
        assert.ok(key.createdAt instanceof Date);
        assert.equal(key.createdAt.getTime(), createdAt.getTime());
      });
    });

    describe("consumeJti", () => {
      const inOneMinute = () => new Date(Date.now() + 60_000);

      it("consumeJti first call then true, second call then false", async () => {
        const realm = await newRealm();
        const jti = randomUUID();
        assert.equal(await repo.consumeJti(realm, "web", jti, inOneMinute()), true);
        assert.equal(await repo.consumeJti(realm, "web", jti, inOneMinute()), false);
        assert.equal(await repo.consumeJti(realm, "web", jti, inOneMinute()), false);
      });

      it("consumeJti for another client or another realm is independent", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        const jti = randomUUID();
        assert.equal(await repo.consumeJti(a, "web", jti, inOneMinute()), true);
        assert.equal(await repo.consumeJti(a, "api", jti, inOneMinute()), true);
        assert.equal(await repo.consumeJti(b, "web", jti, inOneMinute()), true);
        assert.equal(await repo.consumeJti(a, "web", randomUUID(), inOneMinute()), true);
        assert.equal(await repo.consumeJti(a, "web", jti, inOneMinute()), false);
        assert.equal(await repo.consumeJti(b, "web", jti, inOneMinute()), false);
      });

      it("consumeJti when the earlier record has expired then true again", async () => {
        const realm = await newRealm();
        const jti = randomUUID();
        assert.equal(await repo.consumeJti(realm, "web", jti, new Date(Date.now() + 200)), true);
        assert.equal(await repo.consumeJti(realm, "web", jti, inOneMinute()), false);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(await repo.consumeJti(realm, "web", jti, inOneMinute()), true);
        assert.equal(await repo.consumeJti(realm, "web", jti, inOneMinute()), false);
      });

      it("consumeJti when called concurrently then exactly one call is true", async () => {
        const realm = await newRealm();
        const jti = randomUUID();
        const results = await Promise.all(
          Array.from({ length: 10 }, () => repo.consumeJti(realm, "web", jti, inOneMinute())),
        );
        assert.equal(results.filter(Boolean).length, 1);
      });
    });
  });
}
