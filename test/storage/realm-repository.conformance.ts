import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createHash } from "node:crypto";
import type {
  AuditEvent,
  Client,
  IdentityProvider,
  IdentityProviderLink,
  Realm,
  RefreshTokenRecord,
  Scope,
  Session,
  SigningKey,
  StoredProviderToken,
  User,
} from "../../src/domain/index.js";
import {
  InvalidPageTokenError,
  StorageConflictError,
  StorageNotFoundError,
  type Page,
  type RealmBundle,
  type RealmRepository,
} from "../../src/storage/realm-repository.js";

/** What an adapter's test file hands to {@link runRealmRepositoryConformance}. */
export interface OpenedRepository {
  repo: RealmRepository;
  /**
   * Another repository instance on the same storage, as a second server process would open it (a new
   * connection to the same database; for memory, the same instance). The suite closes it unless it is `repo`.
   */
  openSecond(): Promise<RealmRepository>;
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
    sessionIdleTimeout: 1800,
    sessionMaxLifespan: 36_000,
    maxDelegationDepth: 5,
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
    tokenExchange: {
      enabled: true,
      refreshTokens: "same_session",
      scopePolicy: "downscope",
      delegation: false,
      identityProviders: ["corp"],
    },
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

/**
 * An identity provider with every optional field, whose user data has keys FerretDB could not take as
 * field names: JWK members and claim-mapping attribute names holding `.` or starting with `$`.
 */
function makeProvider(alias: string, overrides: Partial<IdentityProvider> = {}): IdentityProvider {
  return {
    alias,
    enabled: true,
    issuer: `https://${alias}.example.com/realms/main`,
    jwks: {
      keys: [
        {
          kty: "EC",
          crv: "P-256",
          x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
          y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
          kid: `${alias}-k1`,
          "x5t#S256": "abc",
          "ext.vendor": { "a.b": 1, $c: [true] },
        },
      ],
    },
    jwksUri: `https://${alias}.example.com/jwks`,
    audiences: ["tessera", "urn:tessera"],
    algorithms: ["ES256", "RS256"],
    maxTokenAge: 300,
    introspection: {
      endpoint: `https://${alias}.example.com/introspect`,
      clientId: "tessera",
      encryptedClientSecret: "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ciphertext.tag",
    },
    claims: {
      userId: "sub",
      username: "preferred_username",
      email: "email",
      attributes: { department: "dept", "x.y": "https://claims.example.com/x.y", $role: "roles", "": "empty" },
    },
    conditions: [
      { name: "employees", expression: 'claims["https://claims.example.com/x.y"] == "staff"' },
      { name: "$odd.name", expression: "email_verified && dept.startsWith('eng')" },
    ],
    userPolicy: "create-if-absent",
    storeTokens: true,
    accountLinkUrl: `https://${alias}.example.com/link`,
    ...overrides,
  };
}

/** A provider with only the required fields (the optional ones absent, not `undefined`). */
function makeMinimalProvider(alias: string): IdentityProvider {
  return {
    alias,
    enabled: false,
    issuer: `https://${alias}.example.com`,
    audiences: ["tessera"],
    algorithms: ["RS256"],
    claims: { userId: "sub", username: "preferred_username", email: "email", attributes: {} },
    conditions: [],
    userPolicy: "link-existing",
    storeTokens: false,
  };
}

/** A link of a random external user to a random user at `alias`, created at T0, without a stored token. */
function makeLink(alias: string, overrides: Partial<IdentityProviderLink> = {}): IdentityProviderLink {
  return { alias, externalUserId: randomUUID(), userId: randomUUID(), createdAt: T0, ...overrides };
}

/** An upstream token stored at T0 + 1 min, expiring at T0 + 1 h. */
function makeStoredToken(overrides: Partial<StoredProviderToken> = {}): StoredProviderToken {
  return {
    encryptedToken: `eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.${randomUUID()}.tag`,
    tokenType: "urn:ietf:params:oauth:token-type:access_token",
    expiresAt: plus(T0, HOUR),
    storedAt: plus(T0, MINUTE),
    ...overrides,
  };
}

/** A fixed "now" for session, token and event tests; purge tests use the real clock (see there). */
const T0 = new Date("2025-06-01T12:00:00.000Z");
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** `base` + `ms`. */
const plus = (base: Date, ms: number): Date => new Date(base.getTime() + ms);

/** A session started at `startedAt` (T0 by default), idle timeout 30 min, 10 h lifetime, not ended. */
function makeSession(overrides: Partial<Session> = {}): Session {
  const startedAt = overrides.startedAt ?? T0;
  return {
    id: randomUUID(),
    userId: "alice-id",
    clientId: "web",
    startedAt,
    lastActiveAt: startedAt,
    idleTimeout: 1800,
    maxExpiresAt: plus(startedAt, 10 * HOUR),
    ...overrides,
  };
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("base64url");

/** A refresh token whose `act` holds claim names FerretDB could not take as field names. */
function makeRefreshToken(overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  return {
    jti: randomUUID(),
    tokenHash: sha256(randomUUID()),
    sessionId: randomUUID(),
    clientId: "web",
    subject: "alice-id",
    scopes: ["openid", "orders:read"],
    audience: ["orders-api"],
    act: {
      sub: "gateway-sa",
      client_id: "gateway",
      iss: "https://tessera.example.com/realms/r",
      "https://claims.example.com/x.y": ["a", "b"],
      $weird: { "a.b": 1, $c: null },
      act: { sub: "batch-sa", client_id: "batch" },
    },
    issuedAt: T0,
    expiresAt: plus(T0, 30 * MINUTE),
    ...overrides,
  };
}

/** An event at `time` (T0 by default) in `realm`. */
function makeEvent(realm: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: randomUUID(),
    time: T0,
    realm,
    kind: "token_exchange",
    result: "success",
    clientId: "web",
    subject: "alice-id",
    actor: "gateway-sa",
    audience: ["orders-api"],
    scopes: ["orders:read"],
    sessionId: "s-1",
    jtis: ["presented-jti", "issued-jti"],
    ...overrides,
  };
}

/** Every page of a listing, following `nextPageToken` from the first page. */
async function allPages<T>(list: (pageToken: string | undefined) => Promise<Page<T>>): Promise<T[][]> {
  const pages: T[][] = [];
  let token: string | undefined;
  do {
    const page = await list(token);
    pages.push(page.items);
    token = page.nextPageToken;
  } while (token !== undefined && pages.length < 100);
  return pages;
}

function makeBundle(name = uniqueName()): RealmBundle {
  return {
    realm: makeRealm(name),
    clients: [makeClient("web"), makePublicClient("api")],
    scopes: [makeScope("openid"), makeScope("orders:read")],
    users: [makeUser("alice"), makeUser("bob")],
    identityProviders: [makeProvider("corp"), makeMinimalProvider("partner")],
  };
}

/**
 * The one test suite every {@link RealmRepository} adapter passes (after dex's `storage/conformance`).
 * `open` is called once; tests use unique realm names, so they share one repository and database.
 */
export function runRealmRepositoryConformance(name: string, open: () => Promise<OpenedRepository>): void {
  describe(`RealmRepository conformance: ${name}`, () => {
    let repo: RealmRepository;
    let opened: OpenedRepository | undefined;

    before(async () => {
      opened = await open();
      repo = opened.repo;
    });
    after(async () => {
      await opened?.cleanup();
    });

    /** Runs `test` with a second repository instance on the same storage as `repo`. */
    async function withSecondInstance(test: (second: RealmRepository) => Promise<void>): Promise<void> {
      assert.ok(opened);
      const second = await opened.openSecond();
      try {
        await test(second);
      } finally {
        if (second !== repo) await second.close();
      }
    }

    /** Runs `test` with a repository on fresh, empty storage: for purgeExpired, which spans every realm. */
    async function withFreshStorage(test: (fresh: RealmRepository) => Promise<void>): Promise<void> {
      const fresh = await open();
      try {
        await test(fresh.repo);
      } finally {
        await fresh.cleanup();
      }
    }

    /** Creates a fresh realm and returns its name. */
    async function newRealm(): Promise<string> {
      const realm = makeRealm();
      await repo.createRealm(realm);
      return realm.name;
    }

    /** Creates a fresh realm with the providers of these aliases and returns its name. */
    async function newRealmWithProviders(...aliases: string[]): Promise<string> {
      const realm = await newRealm();
      for (const alias of aliases) await repo.createIdentityProvider(realm, makeProvider(alias));
      return realm;
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
        const link = makeLink("corp", { userId: bundle.users[0].id, storedToken: makeStoredToken() });
        await repo.createLink(name, link);

        assert.equal(await repo.deleteRealm(name), true);
        const noProvidersNorLinks = async () => {
          assert.equal(await repo.getIdentityProvider(name, "corp"), undefined);
          assert.deepEqual(await repo.listIdentityProviders(name), []);
          assert.equal(await repo.findLink(name, "corp", link.externalUserId), undefined);
          assert.equal(await repo.findLinkOfUser(name, "corp", link.userId), undefined);
          assert.deepEqual(await repo.listLinksOfUser(name, link.userId), []);
        };
        await noProvidersNorLinks();
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
        await noProvidersNorLinks();
        // The same alias and link keys are free again.
        await repo.createIdentityProvider(name, makeProvider("corp"));
        assert.equal(await repo.findLink(name, "corp", link.externalUserId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(name, link.userId), []);
        await repo.createLink(name, link);
        assert.deepEqual(await repo.findLink(name, "corp", link.externalUserId), link);
      });
    });

    describe("importRealm", () => {
      it("importRealm stores the realm with every client, scope, user and identity provider", async () => {
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
        assert.deepEqual(await repo.listIdentityProviders(name), bundle.identityProviders);
        for (const provider of bundle.identityProviders) {
          assert.deepEqual(await repo.getIdentityProvider(name, provider.alias), provider);
        }
      });

      it("importRealm when an identity provider alias repeats inside the bundle then StorageConflictError and no realm is left behind", async () => {
        const bundle = makeBundle();
        const name = bundle.realm.name;
        bundle.identityProviders.push(makeMinimalProvider("corp"));
        await assert.rejects(repo.importRealm(bundle), StorageConflictError);
        assert.equal(await repo.getRealm(name), undefined);
        assert.ok(!(await repo.listRealms()).some((r) => r.name === name));
        assert.deepEqual(await repo.listClients(name), []);
        assert.deepEqual(await repo.listScopes(name), []);
        assert.equal(await repo.findUserByUsername(name, "alice"), undefined);
        assert.equal(await repo.getIdentityProvider(name, "corp"), undefined);
        assert.deepEqual(await repo.listIdentityProviders(name), []);
        await assert.rejects(repo.createLink(name, makeLink("corp")), StorageNotFoundError);

        // The name is free again: a correct bundle imports.
        bundle.identityProviders.pop();
        await repo.importRealm(bundle);
        assert.deepEqual(await repo.listIdentityProviders(name), bundle.identityProviders);
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
          identityProviders: [makeProvider("corp", { issuer: "https://other.example.com" }), makeProvider("other")],
        };
        await assert.rejects(repo.importRealm(second), StorageConflictError);
        assert.deepEqual(await repo.listIdentityProviders(name), first.identityProviders);
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

      it("updateUser replaces the user, username included", async () => {
        const realm = await newRealm();
        const alice = makeUser("alice");
        await repo.createUser(realm, alice);
        const changed: User = { id: alice.id, username: "alice2", enabled: false, attributes: { "a.b": ["c"], $d: [] } };
        await repo.updateUser(realm, changed);
        assert.deepEqual(await repo.getUser(realm, alice.id), changed);
        assert.deepEqual(await repo.findUserByUsername(realm, "alice2"), changed);
        assert.equal(await repo.findUserByUsername(realm, "alice"), undefined);
        // The old username is free again.
        await repo.createUser(realm, makeUser("alice"));
        // Keeping one's own username is no conflict.
        const again = { ...changed, email: "a2@example.com" };
        await repo.updateUser(realm, again);
        assert.deepEqual(await repo.getUser(realm, alice.id), again);
      });

      it("updateUser when the user or realm is unknown then StorageNotFoundError and no user appears", async () => {
        const realm = await newRealm();
        const ghost = makeUser("ghost");
        await assert.rejects(repo.updateUser(realm, ghost), StorageNotFoundError);
        await assert.rejects(repo.updateUser(uniqueName(), ghost), StorageNotFoundError);
        assert.equal(await repo.getUser(realm, ghost.id), undefined);
        assert.equal(await repo.findUserByUsername(realm, "ghost"), undefined);
      });

      it("updateUser when the new username is another user's then StorageConflictError and both stay", async () => {
        const realm = await newRealm();
        const alice = makeUser("alice");
        const bob = makeUser("bob");
        await repo.createUser(realm, alice);
        await repo.createUser(realm, bob);
        await assert.rejects(repo.updateUser(realm, { ...bob, username: "alice", enabled: false }), StorageConflictError);
        assert.deepEqual(await repo.getUser(realm, alice.id), alice);
        assert.deepEqual(await repo.getUser(realm, bob.id), bob);
        assert.deepEqual(await repo.findUserByUsername(realm, "alice"), alice);
      });

      it("updateUser in realm B never touches realm A's user of the same id", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        const alice = makeUser("alice");
        await repo.createUser(a, alice);
        await assert.rejects(repo.updateUser(b, { ...alice, enabled: false }), StorageNotFoundError);
        await repo.createUser(b, makeUser("bob", { id: alice.id }));
        await repo.updateUser(b, makeUser("carol", { id: alice.id }));
        assert.deepEqual(await repo.getUser(a, alice.id), alice);
      });

      it("user attributes whose names hold '.' or start with '$' round trip", async () => {
        const realm = await newRealm();
        const user = makeUser("dot", { attributes: { "given.name": ["Ada"], $role: ["x"], "": ["empty"], none: [] } });
        await repo.createUser(realm, user);
        assert.deepEqual(await repo.getUser(realm, user.id), user);
      });

      it("listUsers pages by username; tokens survive inserts and deletes; filters narrow", async () => {
        const realm = await newRealm();
        const names = ["dave", "alice", "carol", "bob", "erin", "al"];
        const users = new Map(names.map((n) => [n, makeUser(n, { enabled: n !== "carol", email: n === "bob" ? "shared@example.com" : `${n}@example.com` })]));
        for (const user of users.values()) await repo.createUser(realm, user);
        const first = await repo.listUsers(realm, { pageSize: 2 });
        assert.deepEqual(first.items.map((u) => u.username), ["al", "alice"]);
        assert.deepEqual(first.items[0], users.get("al"));
        assert.ok(first.nextPageToken);
        await repo.createUser(realm, makeUser("aaron"));
        await repo.deleteUser(realm, users.get("bob")?.id ?? "");
        const second = await repo.listUsers(realm, { pageSize: 2, pageToken: first.nextPageToken });
        assert.deepEqual(second.items.map((u) => u.username), ["carol", "dave"]);
        const last = await repo.listUsers(realm, { pageSize: 2, pageToken: second.nextPageToken });
        assert.deepEqual(last.items.map((u) => u.username), ["erin"]);
        assert.equal(last.nextPageToken, undefined);
        assert.deepEqual((await repo.listUsers(realm, { pageSize: 10, usernamePrefix: "al" })).items.map((u) => u.username), ["al", "alice"]);
        assert.deepEqual((await repo.listUsers(realm, { pageSize: 10, enabled: false })).items.map((u) => u.username), ["carol"]);
        assert.deepEqual((await repo.listUsers(realm, { pageSize: 10, email: "erin@example.com" })).items.map((u) => u.username), ["erin"]);
        const prefixed = await repo.listUsers(realm, { pageSize: 1, usernamePrefix: "a" });
        assert.deepEqual(prefixed.items.map((u) => u.username), ["aaron"]);
        await assert.rejects(repo.listUsers(realm, { pageSize: 1, pageToken: prefixed.nextPageToken }), InvalidPageTokenError, "a token continues only its own filters");
        assert.deepEqual((await repo.listUsers(uniqueName(), { pageSize: 10 })).items, []);
      });

      it("deleteUser deletes the user and its links, then false; other users keep theirs", async () => {
        const realm = await newRealm();
        await repo.createIdentityProvider(realm, makeProvider("idp"));
        const alice = makeUser("alice");
        const bob = makeUser("bob");
        await repo.createUser(realm, alice);
        await repo.createUser(realm, bob);
        await repo.createLink(realm, { alias: "idp", externalUserId: "ext-alice", userId: alice.id, createdAt: new Date() });
        await repo.createLink(realm, { alias: "idp", externalUserId: "ext-bob", userId: bob.id, createdAt: new Date() });
        assert.equal(await repo.deleteUser(realm, alice.id), true);
        assert.equal(await repo.getUser(realm, alice.id), undefined);
        assert.deepEqual(await repo.listLinksOfUser(realm, alice.id), []);
        assert.equal(await repo.findLink(realm, "idp", "ext-alice"), undefined);
        assert.equal(await repo.deleteUser(realm, alice.id), false);
        assert.equal((await repo.listLinksOfUser(realm, bob.id)).length, 1);
        await repo.createUser(realm, makeUser("alice"));
      });
    });

    describe("identity providers", () => {
      it("createIdentityProvider then getIdentityProvider returns an equal provider", async () => {
        const realm = await newRealm();
        const provider = makeProvider("corp");
        await repo.createIdentityProvider(realm, provider);
        assert.deepEqual(await repo.getIdentityProvider(realm, "corp"), provider);
      });

      it("a provider with only the required fields comes back without the optional ones", async () => {
        const realm = await newRealm();
        const provider = makeMinimalProvider("partner");
        await repo.createIdentityProvider(realm, provider);
        const got = await repo.getIdentityProvider(realm, "partner");
        assert.deepEqual(got, provider);
        for (const field of ["jwks", "jwksUri", "maxTokenAge", "introspection", "accountLinkUrl"]) {
          assert.ok(got && !(field in got), `${field} is present`);
        }
      });

      it("JWKs, claim attribute names and conditions with '.' or a leading '$' round trip through every method", async () => {
        const realm = await newRealm();
        const provider = makeProvider("dots", {
          jwks: { keys: [{ kty: "RSA", n: "AQAB", e: "AQAB", "x.y": "z", $ref: { "a.b": ["c"] } }] },
          claims: {
            userId: "https://claims.example.com/uid",
            username: "$user.name",
            email: "mail",
            attributes: { "x.y": "claim.z", $role: "$roles", "a.b.c": "https://claims.example.com/x.y" },
          },
          conditions: [{ name: "a.b", expression: 'claims["x.y"] == "$z" && has(claims.$w)' }],
        });
        await repo.createIdentityProvider(realm, provider);
        assert.deepEqual(await repo.getIdentityProvider(realm, "dots"), provider);
        assert.deepEqual(await repo.listIdentityProviders(realm), [provider]);
        const changed = { ...provider, claims: { ...provider.claims, attributes: { "p.q": "r.s", $t: "u" } } };
        await repo.updateIdentityProvider(realm, changed);
        assert.deepEqual(await repo.getIdentityProvider(realm, "dots"), changed);
      });

      it("createIdentityProvider when the alias exists then StorageConflictError and the first provider stays", async () => {
        const realm = await newRealm();
        const provider = makeProvider("corp");
        await repo.createIdentityProvider(realm, provider);
        await assert.rejects(repo.createIdentityProvider(realm, makeMinimalProvider("corp")), StorageConflictError);
        assert.deepEqual(await repo.getIdentityProvider(realm, "corp"), provider);
      });

      it("createIdentityProvider when the realm is unknown then StorageNotFoundError", async () => {
        const realm = uniqueName();
        await assert.rejects(repo.createIdentityProvider(realm, makeProvider("corp")), StorageNotFoundError);
        assert.equal(await repo.getIdentityProvider(realm, "corp"), undefined);
      });

      it("getIdentityProvider when the alias or realm is unknown then undefined", async () => {
        const realm = await newRealmWithProviders("corp");
        assert.equal(await repo.getIdentityProvider(realm, "nobody"), undefined);
        assert.equal(await repo.getIdentityProvider(uniqueName(), "corp"), undefined);
      });

      it("listIdentityProviders returns the realm's providers sorted by alias", async () => {
        const realm = await newRealm();
        const providers = ["m", "z", "a", "B"].map((alias) => makeProvider(alias));
        for (const provider of providers) await repo.createIdentityProvider(realm, provider);
        assert.deepEqual(await repo.listIdentityProviders(realm), [...providers].sort((x, y) => (x.alias < y.alias ? -1 : 1)));
        assert.deepEqual((await repo.listIdentityProviders(realm)).map((p) => p.alias), ["B", "a", "m", "z"]);
        assert.deepEqual(await repo.listIdentityProviders(await newRealm()), []);
        assert.deepEqual(await repo.listIdentityProviders(uniqueName()), []);
      });

      it("updateIdentityProvider replaces the provider, optional fields removed included", async () => {
        const realm = await newRealmWithProviders("corp");
        const changed: IdentityProvider = { ...makeMinimalProvider("corp"), jwksUri: "https://corp.example.com/v2/jwks" };
        await repo.updateIdentityProvider(realm, changed);
        assert.deepEqual(await repo.getIdentityProvider(realm, "corp"), changed);
        const back = makeProvider("corp", { enabled: false, audiences: ["x"] });
        await repo.updateIdentityProvider(realm, back);
        assert.deepEqual(await repo.getIdentityProvider(realm, "corp"), back);
      });

      it("updateIdentityProvider when the provider or realm is unknown then StorageNotFoundError and no provider appears", async () => {
        const realm = await newRealm();
        await assert.rejects(repo.updateIdentityProvider(realm, makeProvider("ghost")), StorageNotFoundError);
        await assert.rejects(repo.updateIdentityProvider(uniqueName(), makeProvider("ghost")), StorageNotFoundError);
        assert.equal(await repo.getIdentityProvider(realm, "ghost"), undefined);
        assert.deepEqual(await repo.listIdentityProviders(realm), []);
      });

      it("updateIdentityProvider keeps the provider's links", async () => {
        const realm = await newRealmWithProviders("corp");
        const link = makeLink("corp");
        await repo.createLink(realm, link);
        await repo.updateIdentityProvider(realm, makeProvider("corp", { enabled: false }));
        assert.deepEqual(await repo.findLink(realm, "corp", link.externalUserId), link);
      });

      it("deleteIdentityProvider when the provider exists then true, then false; unknown realm then false", async () => {
        const realm = await newRealmWithProviders("corp", "other");
        assert.equal(await repo.deleteIdentityProvider(realm, "corp"), true);
        assert.equal(await repo.getIdentityProvider(realm, "corp"), undefined);
        assert.deepEqual((await repo.listIdentityProviders(realm)).map((p) => p.alias), ["other"]);
        assert.equal(await repo.deleteIdentityProvider(realm, "corp"), false);
        assert.equal(await repo.deleteIdentityProvider(uniqueName(), "other"), false);
      });

      it("deleteIdentityProvider removes its links and only its links; the alias created again starts without links", async () => {
        const realm = await newRealmWithProviders("corp", "other");
        const userId = randomUUID();
        const corpLinks = [makeLink("corp", { userId, storedToken: makeStoredToken() }), makeLink("corp")];
        const otherLink = makeLink("other", { userId, externalUserId: corpLinks[0].externalUserId });
        for (const link of [...corpLinks, otherLink]) await repo.createLink(realm, link);

        assert.equal(await repo.deleteIdentityProvider(realm, "corp"), true);
        for (const link of corpLinks) {
          assert.equal(await repo.findLink(realm, "corp", link.externalUserId), undefined);
          assert.equal(await repo.findLinkOfUser(realm, "corp", link.userId), undefined);
        }
        assert.deepEqual(await repo.listLinksOfUser(realm, userId), [otherLink]);
        assert.deepEqual(await repo.findLink(realm, "other", otherLink.externalUserId), otherLink);
        await assert.rejects(repo.storeLinkToken(realm, "corp", userId, makeStoredToken()), StorageNotFoundError);

        await repo.createIdentityProvider(realm, makeProvider("corp"));
        assert.equal(await repo.findLink(realm, "corp", corpLinks[0].externalUserId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(realm, userId), [otherLink]);
        await repo.createLink(realm, corpLinks[0]);
        assert.deepEqual(await repo.findLinkOfUser(realm, "corp", userId), corpLinks[0]);
      });
    });

    describe("identity provider links", () => {
      it("createLink then findLink and findLinkOfUser return an equal link with Dates as Dates", async () => {
        const realm = await newRealmWithProviders("corp");
        const link = makeLink("corp", { createdAt: new Date("2024-02-29T23:59:59.123Z") });
        await repo.createLink(realm, link);
        const found = await repo.findLink(realm, "corp", link.externalUserId);
        assert.deepEqual(found, link);
        assert.ok(found?.createdAt instanceof Date);
        assert.ok(found && !("storedToken" in found));
        assert.deepEqual(await repo.findLinkOfUser(realm, "corp", link.userId), link);
        assert.deepEqual(await repo.listLinksOfUser(realm, link.userId), [link]);
      });

      it("createLink with a stored token then the token comes back with its Dates", async () => {
        const realm = await newRealmWithProviders("corp");
        const link = makeLink("corp", { storedToken: makeStoredToken() });
        await repo.createLink(realm, link);
        const found = await repo.findLinkOfUser(realm, "corp", link.userId);
        assert.deepEqual(found, link);
        assert.ok(found?.storedToken?.expiresAt instanceof Date && found.storedToken.storedAt instanceof Date);
      });

      it("createLink when the external user is already linked (to another user) then StorageConflictError and the first link stays", async () => {
        const realm = await newRealmWithProviders("corp");
        const first = makeLink("corp");
        await repo.createLink(realm, first);
        const second = makeLink("corp", { externalUserId: first.externalUserId });
        await assert.rejects(repo.createLink(realm, second), StorageConflictError);
        assert.deepEqual(await repo.findLink(realm, "corp", first.externalUserId), first);
        assert.equal(await repo.findLinkOfUser(realm, "corp", second.userId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(realm, second.userId), []);
      });

      it("createLink when the user already has a link to the provider (another external user) then StorageConflictError and the first link stays", async () => {
        const realm = await newRealmWithProviders("corp");
        const first = makeLink("corp");
        await repo.createLink(realm, first);
        const second = makeLink("corp", { userId: first.userId });
        await assert.rejects(repo.createLink(realm, second), StorageConflictError);
        assert.deepEqual(await repo.findLinkOfUser(realm, "corp", first.userId), first);
        assert.equal(await repo.findLink(realm, "corp", second.externalUserId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(realm, first.userId), [first]);
      });

      it("one user links to several providers, and one external user id at several providers; listLinksOfUser sorts by alias", async () => {
        const realm = await newRealmWithProviders("m", "z", "a");
        const userId = randomUUID();
        const externalUserId = randomUUID();
        const links = ["z", "a", "m"].map((alias) => makeLink(alias, { userId, externalUserId }));
        for (const link of links) await repo.createLink(realm, link);
        await repo.createLink(realm, makeLink("a")); // another user's
        assert.deepEqual((await repo.listLinksOfUser(realm, userId)).map((l) => l.alias), ["a", "m", "z"]);
        for (const link of links) assert.deepEqual(await repo.findLink(realm, link.alias, externalUserId), link);
      });

      it("createLink when the realm or the provider is unknown then StorageNotFoundError and no link appears", async () => {
        const realm = await newRealmWithProviders("corp");
        const link = makeLink("nobody");
        await assert.rejects(repo.createLink(realm, link), StorageNotFoundError);
        assert.equal(await repo.findLink(realm, "nobody", link.externalUserId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(realm, link.userId), []);
        const elsewhere = uniqueName();
        const corpLink = makeLink("corp");
        await assert.rejects(repo.createLink(elsewhere, corpLink), StorageNotFoundError);
        assert.equal(await repo.findLink(elsewhere, "corp", corpLink.externalUserId), undefined);
        // Nothing was left behind to conflict with.
        await repo.createIdentityProvider(realm, makeProvider("nobody"));
        await repo.createLink(realm, link);
      });

      it("createLink does not require the user to exist (a first login links before it creates the user)", async () => {
        const realm = await newRealmWithProviders("corp");
        const link = makeLink("corp");
        await repo.createLink(realm, link);
        assert.equal(await repo.getUser(realm, link.userId), undefined);
        assert.deepEqual(await repo.findLink(realm, "corp", link.externalUserId), link);
      });

      it("findLink, findLinkOfUser and listLinksOfUser when nothing matches then undefined or empty", async () => {
        const realm = await newRealmWithProviders("corp", "other");
        const link = makeLink("corp");
        await repo.createLink(realm, link);
        assert.equal(await repo.findLink(realm, "corp", randomUUID()), undefined);
        assert.equal(await repo.findLink(realm, "other", link.externalUserId), undefined);
        assert.equal(await repo.findLink(realm, "corp", link.userId), undefined);
        assert.equal(await repo.findLinkOfUser(realm, "corp", randomUUID()), undefined);
        assert.equal(await repo.findLinkOfUser(realm, "other", link.userId), undefined);
        assert.equal(await repo.findLinkOfUser(realm, "corp", link.externalUserId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(realm, randomUUID()), []);
        assert.deepEqual(await repo.listLinksOfUser(realm, link.externalUserId), []);
        assert.equal(await repo.findLink(uniqueName(), "corp", link.externalUserId), undefined);
        assert.equal(await repo.findLinkOfUser(uniqueName(), "corp", link.userId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(uniqueName(), link.userId), []);
      });

      it("storeLinkToken stores, replaces (optional expiresAt absent) and with undefined removes the token", async () => {
        const realm = await newRealmWithProviders("corp");
        const link = makeLink("corp");
        await repo.createLink(realm, link);

        const token = makeStoredToken({ expiresAt: new Date("2025-06-01T13:00:00.456Z"), storedAt: new Date("2025-06-01T12:00:00.789Z") });
        await repo.storeLinkToken(realm, "corp", link.userId, token);
        const stored = await repo.findLink(realm, "corp", link.externalUserId);
        assert.deepEqual(stored, { ...link, storedToken: token });
        assert.ok(stored?.storedToken?.expiresAt instanceof Date);
        assert.equal(stored.storedToken.expiresAt.getTime(), token.expiresAt?.getTime());
        assert.ok(stored.storedToken.storedAt instanceof Date);

        const next = makeStoredToken({ tokenType: "urn:ietf:params:oauth:token-type:id_token", storedAt: plus(T0, HOUR) });
        delete next.expiresAt;
        await repo.storeLinkToken(realm, "corp", link.userId, next);
        const replaced = await repo.findLinkOfUser(realm, "corp", link.userId);
        assert.deepEqual(replaced, { ...link, storedToken: next });
        assert.ok(replaced?.storedToken && !("expiresAt" in replaced.storedToken));

        await repo.storeLinkToken(realm, "corp", link.userId, undefined);
        const removed = await repo.findLink(realm, "corp", link.externalUserId);
        assert.deepEqual(removed, link);
        assert.ok(removed && !("storedToken" in removed));
        assert.deepEqual(await repo.listLinksOfUser(realm, link.userId), [link]);
        await repo.storeLinkToken(realm, "corp", link.userId, undefined); // removing nothing is fine
      });

      it("storeLinkToken when the user has no link to the provider then StorageNotFoundError and no link appears", async () => {
        const realm = await newRealmWithProviders("corp", "other");
        const link = makeLink("corp");
        await repo.createLink(realm, link);
        const token = makeStoredToken();
        await assert.rejects(repo.storeLinkToken(realm, "other", link.userId, token), StorageNotFoundError);
        await assert.rejects(repo.storeLinkToken(realm, "corp", randomUUID(), token), StorageNotFoundError);
        await assert.rejects(repo.storeLinkToken(realm, "corp", link.externalUserId, token), StorageNotFoundError);
        await assert.rejects(repo.storeLinkToken(uniqueName(), "corp", link.userId, token), StorageNotFoundError);
        assert.deepEqual(await repo.listLinksOfUser(realm, link.userId), [link]);
        assert.equal(await repo.findLinkOfUser(realm, "other", link.userId), undefined);
      });

      it("deleteLink when the link exists then true, then false; its keys are free again", async () => {
        const realm = await newRealmWithProviders("corp");
        const link = makeLink("corp", { storedToken: makeStoredToken() });
        const kept = makeLink("corp");
        await repo.createLink(realm, link);
        await repo.createLink(realm, kept);
        assert.equal(await repo.deleteLink(realm, "corp", link.userId), false); // a user id is no external id
        assert.equal(await repo.deleteLink(uniqueName(), "corp", link.externalUserId), false);
        assert.equal(await repo.deleteLink(realm, "corp", link.externalUserId), true);
        assert.equal(await repo.findLink(realm, "corp", link.externalUserId), undefined);
        assert.equal(await repo.findLinkOfUser(realm, "corp", link.userId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(realm, link.userId), []);
        assert.equal(await repo.deleteLink(realm, "corp", link.externalUserId), false);
        assert.deepEqual(await repo.findLink(realm, "corp", kept.externalUserId), kept);
        // Both keys are free: the external user may link to another user, the user to another external user.
        await repo.createLink(realm, { ...link, userId: randomUUID() });
        await repo.createLink(realm, { ...link, externalUserId: randomUUID() });
      });

      it("createLink when called 20 times concurrently for one user with different external users then exactly one succeeds", async () => {
        const realm = await newRealmWithProviders("corp");
        const userId = randomUUID();
        const links = Array.from({ length: 20 }, () => makeLink("corp", { userId }));
        const results = await Promise.allSettled(links.map((link) => repo.createLink(realm, link)));
        const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [links[i]] : []));
        assert.equal(winners.length, 1);
        for (const r of results) if (r.status === "rejected") assert.ok(r.reason instanceof StorageConflictError, String(r.reason));
        assert.deepEqual(await repo.listLinksOfUser(realm, userId), winners);
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
        const link = makeLink("corp");
        await repo.createLink(a.realm.name, link);
        await repo.createLink(b.realm.name, link);
        await repo.deleteRealm(b.realm.name);
        assert.equal((await repo.listClients(a.realm.name)).length, 2);
        assert.deepEqual(await repo.findUserByUsername(a.realm.name, "alice"), a.users[0]);
        assert.deepEqual(await repo.listIdentityProviders(a.realm.name), a.identityProviders);
        assert.deepEqual(await repo.findLink(a.realm.name, "corp", link.externalUserId), link);
      });

      it("the same alias and the same link keys may exist in two realms; each realm sees only its own", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        const providerA = makeProvider("corp");
        const providerB = makeMinimalProvider("corp");
        await repo.createIdentityProvider(a, providerA);
        await repo.createIdentityProvider(b, providerB);
        const linkA = makeLink("corp", { storedToken: makeStoredToken() });
        const linkB = { ...linkA, createdAt: plus(T0, HOUR) };
        delete linkB.storedToken;
        await repo.createLink(a, linkA);
        await repo.createLink(b, linkB);
        assert.deepEqual(await repo.getIdentityProvider(a, "corp"), providerA);
        assert.deepEqual(await repo.getIdentityProvider(b, "corp"), providerB);
        assert.deepEqual(await repo.listIdentityProviders(b), [providerB]);
        assert.deepEqual(await repo.findLink(a, "corp", linkA.externalUserId), linkA);
        assert.deepEqual(await repo.findLink(b, "corp", linkA.externalUserId), linkB);
        assert.deepEqual(await repo.findLinkOfUser(b, "corp", linkA.userId), linkB);
        assert.deepEqual(await repo.listLinksOfUser(b, linkA.userId), [linkB]);
      });

      it("identity providers and links of realm A are never visible from realm B, and B's writes never touch them", async () => {
        const a = await newRealmWithProviders("corp");
        const b = await newRealm();
        const provider = makeProvider("corp");
        const link = makeLink("corp", { storedToken: makeStoredToken() });
        await repo.createLink(a, link);

        assert.equal(await repo.getIdentityProvider(b, "corp"), undefined);
        assert.deepEqual(await repo.listIdentityProviders(b), []);
        assert.equal(await repo.findLink(b, "corp", link.externalUserId), undefined);
        assert.equal(await repo.findLinkOfUser(b, "corp", link.userId), undefined);
        assert.deepEqual(await repo.listLinksOfUser(b, link.userId), []);

        await assert.rejects(repo.updateIdentityProvider(b, makeMinimalProvider("corp")), StorageNotFoundError);
        await assert.rejects(repo.storeLinkToken(b, "corp", link.userId, undefined), StorageNotFoundError);
        await assert.rejects(repo.createLink(b, makeLink("corp")), StorageNotFoundError);
        assert.equal(await repo.deleteLink(b, "corp", link.externalUserId), false);
        assert.equal(await repo.deleteIdentityProvider(b, "corp"), false);
        await repo.createIdentityProvider(b, makeMinimalProvider("corp"));
        assert.equal(await repo.deleteIdentityProvider(b, "corp"), true);

        assert.deepEqual(await repo.getIdentityProvider(a, "corp"), provider);
        assert.deepEqual(await repo.findLink(a, "corp", link.externalUserId), link);
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

      it("mutating a returned identity provider or link changes nothing stored", async () => {
        const realm = await newRealmWithProviders("corp");
        const link = makeLink("corp", { storedToken: makeStoredToken() });
        await repo.createLink(realm, link);

        const [listed] = await repo.listIdentityProviders(realm);
        const got = await repo.getIdentityProvider(realm, "corp");
        const found = await repo.findLink(realm, "corp", link.externalUserId);
        const ofUser = await repo.findLinkOfUser(realm, "corp", link.userId);
        const [linked] = await repo.listLinksOfUser(realm, link.userId);
        assert.ok(listed && got && found?.storedToken && ofUser?.storedToken && linked?.storedToken);
        listed.audiences.push("evil");
        got.claims.attributes.injected = "claim";
        got.conditions.length = 0;
        got.jwks?.keys.push({ kty: "oct" });
        found.storedToken.encryptedToken = "changed";
        found.createdAt.setTime(0);
        ofUser.storedToken.storedAt.setTime(0);
        linked.userId = "someone-else";

        assert.deepEqual(await repo.getIdentityProvider(realm, "corp"), makeProvider("corp"));
        assert.deepEqual(await repo.findLink(realm, "corp", link.externalUserId), link);
        assert.deepEqual(await repo.listLinksOfUser(realm, link.userId), [link]);
      });

      it("mutating an identity provider, link, token or user after passing it in changes nothing stored", async () => {
        const realm = await newRealm();
        const provider = makeProvider("corp");
        await repo.createIdentityProvider(realm, provider);
        provider.audiences.length = 0;
        provider.claims.attributes.late = "x";
        assert.deepEqual(await repo.getIdentityProvider(realm, "corp"), makeProvider("corp"));

        const update = makeProvider("corp", { enabled: false });
        await repo.updateIdentityProvider(realm, update);
        update.algorithms.push("none");
        assert.deepEqual(await repo.getIdentityProvider(realm, "corp"), makeProvider("corp", { enabled: false }));

        const link = makeLink("corp");
        const expectedLink = structuredClone(link);
        await repo.createLink(realm, link);
        link.createdAt.setTime(0);
        const token = makeStoredToken();
        const expectedToken = structuredClone(token);
        await repo.storeLinkToken(realm, "corp", expectedLink.userId, token);
        token.encryptedToken = "changed";
        token.storedAt.setTime(0);
        assert.deepEqual(await repo.findLink(realm, "corp", expectedLink.externalUserId), {
          ...expectedLink,
          storedToken: expectedToken,
        });

        const user = makeUser("alice");
        await repo.createUser(realm, user);
        const changed = makeUser("alice2", { id: user.id });
        const expectedUser = structuredClone(changed);
        await repo.updateUser(realm, changed);
        changed.attributes.groups.push("root");
        assert.deepEqual(await repo.getUser(realm, user.id), expectedUser);
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

      it("updateSigningKeyState changes the state and retireAt of that key only; undefined removes retireAt", async () => {
        const realm = await newRealm();
        const base = Date.now();
        const old = makeKey("old", new Date(base - 1_000), { origin: "imported" });
        const fresh = makeKey("fresh", new Date(base));
        await repo.addSigningKey(realm, old);
        await repo.addSigningKey(realm, fresh);
        const retireAt = new Date(base + 600_000);
        assert.equal(await repo.updateSigningKeyState(realm, "old", "passive", retireAt), true);
        assert.deepEqual(await repo.listSigningKeys(realm), [fresh, { ...old, state: "passive", retireAt }]);
        assert.equal(await repo.updateSigningKeyState(realm, "old", "retired"), true);
        const [, retired] = await repo.listSigningKeys(realm);
        assert.deepEqual(retired, { ...old, state: "retired" });
        assert.ok(!("retireAt" in retired), "retireAt removed, not undefined");
      });

      it("updateSigningKeyState of an unknown kid, or of another realm's key, then false and nothing changes", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        const key = makeKey("k", new Date());
        await repo.addSigningKey(a, key);
        assert.equal(await repo.updateSigningKeyState(a, "nope", "retired"), false);
        assert.equal(await repo.updateSigningKeyState(b, "k", "retired"), false);
        assert.equal(await repo.updateSigningKeyState(uniqueName(), "k", "retired"), false);
        assert.deepEqual(await repo.listSigningKeys(a), [key]);
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

      it("consumeJti when the earlier record has expired and calls race on two instances then exactly one is true", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealm();
          const jti = randomUUID();
          assert.equal(await repo.consumeJti(realm, "web", jti, new Date(Date.now() + 100)), true);
          await new Promise((resolve) => setTimeout(resolve, 150));
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) => (i % 2 ? second : repo).consumeJti(realm, "web", jti, inOneMinute())),
          );
          assert.equal(results.filter(Boolean).length, 1);
        });
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

    describe("claimRevision", () => {
      const inOneMinute = () => new Date(Date.now() + 60_000);
      it("claimRevision then true once; another revision, key, kind or realm is independent", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        assert.equal(await repo.claimRevision(a, "client", "web", "e1", inOneMinute()), true);
        assert.equal(await repo.claimRevision(a, "client", "web", "e1", inOneMinute()), false);
        assert.equal(await repo.claimRevision(a, "client", "web", "e2", inOneMinute()), true);
        assert.equal(await repo.claimRevision(a, "client", "api", "e1", inOneMinute()), true);
        assert.equal(await repo.claimRevision(a, "scope", "web", "e1", inOneMinute()), true);
        assert.equal(await repo.claimRevision(b, "client", "web", "e1", inOneMinute()), true);
      });

      it("claimRevision when the earlier claim has expired then true again", async () => {
        const realm = await newRealm();
        assert.equal(await repo.claimRevision(realm, "user", "u", "e", new Date(Date.now() + 100)), true);
        await new Promise((resolve) => setTimeout(resolve, 150));
        assert.equal(await repo.claimRevision(realm, "user", "u", "e", inOneMinute()), true);
        assert.equal(await repo.claimRevision(realm, "user", "u", "e", inOneMinute()), false);
      });

      it("claimRevision raced on two instances then exactly one is true", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealm();
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) => (i % 2 ? second : repo).claimRevision(realm, "realm", realm, "etag-1", inOneMinute())),
          );
          assert.equal(results.filter(Boolean).length, 1);
        });
      });
    });

    describe("sessions", () => {
      it("createSession then getSession returns an equal session with Dates as Dates", async () => {
        const realm = await newRealm();
        const session = makeSession({ startedAt: new Date("2025-02-28T23:59:59.123Z") });
        await repo.createSession(realm, session);
        const got = await repo.getSession(realm, session.id);
        assert.deepEqual(got, session);
        assert.ok(got?.startedAt instanceof Date && got.lastActiveAt instanceof Date && got.maxExpiresAt instanceof Date);
        assert.ok(!("endedAt" in got) && !("endReason" in got), "optional fields are absent, not undefined");
      });

      it("createSession when the id exists then StorageConflictError and the first session stays", async () => {
        const realm = await newRealm();
        const first = makeSession();
        await repo.createSession(realm, first);
        await assert.rejects(repo.createSession(realm, makeSession({ id: first.id, userId: "bob-id" })), StorageConflictError);
        assert.deepEqual(await repo.getSession(realm, first.id), first);
      });

      it("getSession when the id or the realm is unknown then undefined", async () => {
        const realm = await newRealm();
        assert.equal(await repo.getSession(realm, randomUUID()), undefined);
        assert.equal(await repo.getSession(uniqueName(), randomUUID()), undefined);
      });

      it("touchSession moves lastActiveAt forward and with it the idle expiry listings filter on", async () => {
        const realm = await newRealm();
        const session = makeSession({ idleTimeout: 60 });
        await repo.createSession(realm, session);
        await repo.touchSession(realm, session.id, plus(T0, 50 * SECOND));
        assert.deepEqual(await repo.getSession(realm, session.id), { ...session, lastActiveAt: plus(T0, 50 * SECOND) });
        // Idle until 50 s + 60 s: active at 100 s, which the untouched session was not.
        const listed = await repo.listSessions(realm, { pageSize: 10, activeAt: plus(T0, 100 * SECOND) });
        assert.deepEqual(listed.items.map((s) => s.id), [session.id]);
        const after = await repo.listSessions(realm, { pageSize: 10, activeAt: plus(T0, 110 * SECOND) });
        assert.deepEqual(after.items, []);
      });

      it("touchSession when at is not after lastActiveAt then lastActiveAt never moves back", async () => {
        const realm = await newRealm();
        const session = makeSession();
        await repo.createSession(realm, session);
        await repo.touchSession(realm, session.id, plus(T0, 10 * MINUTE));
        await repo.touchSession(realm, session.id, plus(T0, 5 * MINUTE));
        await repo.touchSession(realm, session.id, plus(T0, 10 * MINUTE));
        assert.deepEqual((await repo.getSession(realm, session.id))?.lastActiveAt, plus(T0, 10 * MINUTE));
      });

      it("touchSession when the session has ended then nothing changes", async () => {
        const realm = await newRealm();
        const session = makeSession();
        await repo.createSession(realm, session);
        assert.equal(await repo.endSession(realm, session.id, plus(T0, MINUTE), "logout"), true);
        await repo.touchSession(realm, session.id, plus(T0, 2 * MINUTE));
        const got = await repo.getSession(realm, session.id);
        assert.deepEqual(got, { ...session, endedAt: plus(T0, MINUTE), endReason: "logout" });
      });

      it("touchSession when the session is already idle or past maxExpiresAt then it is not revived", async () => {
        const realm = await newRealm();
        const idle = makeSession({ idleTimeout: 60 });
        const old = makeSession({ maxExpiresAt: plus(T0, 10 * MINUTE) });
        await repo.createSession(realm, idle);
        await repo.createSession(realm, old);
        await repo.touchSession(realm, idle.id, plus(T0, 60 * SECOND)); // idle exactly at 60 s
        await repo.touchSession(realm, old.id, plus(T0, 10 * MINUTE));
        assert.deepEqual(await repo.getSession(realm, idle.id), idle);
        assert.deepEqual(await repo.getSession(realm, old.id), old);
      });

      it("touchSession when the session or realm is unknown then nothing happens", async () => {
        const realm = await newRealm();
        const id = randomUUID();
        await repo.touchSession(realm, id, T0);
        await repo.touchSession(uniqueName(), id, T0);
        assert.equal(await repo.getSession(realm, id), undefined);
      });

      it("endSession first call then true with endedAt and endReason stored; later calls then false and the first end stays", async () => {
        const realm = await newRealm();
        const session = makeSession();
        await repo.createSession(realm, session);
        assert.equal(await repo.endSession(realm, session.id, plus(T0, MINUTE), "admin"), true);
        assert.equal(await repo.endSession(realm, session.id, plus(T0, 2 * MINUTE), "logout"), false);
        const got = await repo.getSession(realm, session.id);
        assert.deepEqual(got, { ...session, endedAt: plus(T0, MINUTE), endReason: "admin" });
        assert.ok(got?.endedAt instanceof Date);
      });

      it("endSession when the session or realm is unknown then false and no session appears", async () => {
        const realm = await newRealm();
        const id = randomUUID();
        assert.equal(await repo.endSession(realm, id, T0, "logout"), false);
        assert.equal(await repo.endSession(uniqueName(), id, T0, "logout"), false);
        assert.equal(await repo.getSession(realm, id), undefined);
        // A session created later under that id starts active: the failed end left nothing behind.
        await repo.createSession(realm, makeSession({ id }));
        assert.equal((await repo.getSession(realm, id))?.endedAt, undefined);
        assert.equal(await repo.endSession(realm, id, T0, "logout"), true);
      });

      it("endSession when an expired session ends then true: the end is recorded whatever the expiry", async () => {
        const realm = await newRealm();
        const session = makeSession({ idleTimeout: 1 });
        await repo.createSession(realm, session);
        assert.equal(await repo.endSession(realm, session.id, plus(T0, HOUR), "admin"), true);
        assert.deepEqual((await repo.getSession(realm, session.id))?.endedAt, plus(T0, HOUR));
      });

      it("createSession of an already ended session then getSession returns it ended", async () => {
        const realm = await newRealm();
        const session = makeSession({ endedAt: plus(T0, MINUTE), endReason: "refresh_token_reuse" });
        await repo.createSession(realm, session);
        assert.deepEqual(await repo.getSession(realm, session.id), session);
        assert.equal(await repo.endSession(realm, session.id, plus(T0, 2 * MINUTE), "logout"), false);
      });

      it("listSessions returns the realm's sessions newest startedAt first, ties by id ascending", async () => {
        const realm = await newRealm();
        const ids = ["b", "a", "c"].map((c) => `${c}-${randomUUID()}`);
        const sessions = [
          makeSession({ startedAt: plus(T0, -HOUR) }),
          makeSession({ id: ids[0], startedAt: T0 }),
          makeSession({ startedAt: plus(T0, HOUR) }),
          makeSession({ id: ids[1], startedAt: T0 }),
          makeSession({ id: ids[2], startedAt: T0 }),
        ];
        for (const session of sessions) await repo.createSession(realm, session);
        const page = await repo.listSessions(realm, { pageSize: 10 });
        assert.deepEqual(page.items, [sessions[2], sessions[3], sessions[1], sessions[4], sessions[0]]);
        assert.equal(page.nextPageToken, undefined);
      });

      it("listSessions with userId returns only that user's sessions", async () => {
        const realm = await newRealm();
        const alice = [makeSession({ startedAt: plus(T0, 1) }), makeSession()];
        await repo.createSession(realm, alice[0]);
        await repo.createSession(realm, makeSession({ userId: "bob-id" }));
        await repo.createSession(realm, alice[1]);
        assert.deepEqual((await repo.listSessions(realm, { pageSize: 10, userId: "alice-id" })).items, alice);
        assert.deepEqual((await repo.listSessions(realm, { pageSize: 10, userId: "carol-id" })).items, []);
      });

      it("listSessions with activeAt returns only sessions not ended, not idle and not past maxExpiresAt at that time", async () => {
        const realm = await newRealm();
        const at = plus(T0, 20 * MINUTE);
        const active = makeSession({ startedAt: plus(T0, 2), lastActiveAt: plus(T0, 15 * MINUTE) });
        const activeUntouched = makeSession({ startedAt: plus(T0, 1) }); // idle at T0 + 30 min
        const ended = makeSession({ startedAt: plus(T0, 3) });
        const endedLater = makeSession({ startedAt: plus(T0, 4) });
        const idle = makeSession({ startedAt: plus(T0, -HOUR) }); // idle at T0 - 30 min
        const idleExactly = makeSession({ startedAt: plus(T0, -10 * MINUTE) }); // idle at T0 + 20 min
        const tooOld = makeSession({ startedAt: plus(T0, -10 * HOUR - MINUTE), lastActiveAt: plus(T0, 10 * MINUTE) }); // max T0 - 1 min
        const tooOldExactly = makeSession({ startedAt: plus(T0, 5), maxExpiresAt: at });
        const notStartedYet = makeSession({ startedAt: plus(T0, HOUR) }); // active "at" 20 min by the rules: no startedAt bound
        for (const s of [active, activeUntouched, ended, endedLater, idle, idleExactly, tooOld, tooOldExactly, notStartedYet]) {
          await repo.createSession(realm, s);
        }
        await repo.endSession(realm, ended.id, plus(T0, 5 * MINUTE), "logout");
        // Ended after `at`: still not listed, as isSessionActive counts any end.
        await repo.endSession(realm, endedLater.id, plus(T0, HOUR), "admin");
        const page = await repo.listSessions(realm, { pageSize: 10, activeAt: at });
        assert.deepEqual(page.items.map((s) => s.id), [notStartedYet.id, active.id, activeUntouched.id]);
        assert.equal(page.nextPageToken, undefined);
        const both = await repo.listSessions(realm, { pageSize: 10, activeAt: at, userId: "bob-id" });
        assert.deepEqual(both.items, []);
      });

      it("listSessions pages 7 sessions by 3 as 3/3/1 in order without duplicates; the last page has no token", async () => {
        const realm = await newRealm();
        const sessions = Array.from({ length: 7 }, (_, i) => makeSession({ startedAt: plus(T0, (i % 3) * MINUTE) }));
        for (const session of sessions) await repo.createSession(realm, session);
        const pages = await allPages((pageToken) => repo.listSessions(realm, { pageSize: 3, pageToken }));
        assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
        const all = (await repo.listSessions(realm, { pageSize: 100 })).items;
        assert.equal(all.length, 7);
        assert.deepEqual(pages.flat(), all);
        assert.equal(new Set(pages.flat().map((s) => s.id)).size, 7);
      });

      it("listSessions with activeAt when ended sessions lie between the active ones then pages are still full", async () => {
        const realm = await newRealm();
        const sessions = Array.from({ length: 12 }, (_, i) => makeSession({ startedAt: plus(T0, -i * SECOND) }));
        for (const session of sessions) await repo.createSession(realm, session);
        // The newest 8 end: the first two active sessions are the 9th and 10th newest.
        for (const session of sessions.slice(0, 8)) await repo.endSession(realm, session.id, T0, "admin");
        const query = { pageSize: 2, activeAt: plus(T0, MINUTE) };
        const pages = await allPages((pageToken) => repo.listSessions(realm, { ...query, pageToken }));
        assert.deepEqual(pages.map((p) => p.map((s) => s.id)), [
          [sessions[8].id, sessions[9].id],
          [sessions[10].id, sessions[11].id],
        ]);
      });

      it("listSessions when pageSize is below 1 then one session per page", async () => {
        const realm = await newRealm();
        for (let i = 0; i < 2; i++) await repo.createSession(realm, makeSession());
        const page = await repo.listSessions(realm, { pageSize: 0 });
        assert.equal(page.items.length, 1);
        assert.ok(page.nextPageToken);
      });

      it("listSessions when the page token is malformed or from other filters then InvalidPageTokenError", async () => {
        const realm = await newRealm();
        for (let i = 0; i < 3; i++) await repo.createSession(realm, makeSession({ startedAt: plus(T0, i) }));
        const { nextPageToken } = await repo.listSessions(realm, { pageSize: 1 });
        assert.ok(nextPageToken);
        await repo.listSessions(realm, { pageSize: 5, pageToken: nextPageToken }); // another page size is fine
        for (const pageToken of ["garbage!", "bm90IGpzb24", Buffer.from("[1,2]").toString("base64url"), nextPageToken.slice(0, -3)]) {
          await assert.rejects(repo.listSessions(realm, { pageSize: 1, pageToken }), InvalidPageTokenError, pageToken);
        }
        await assert.rejects(repo.listSessions(realm, { pageSize: 1, pageToken: nextPageToken, userId: "x" }), InvalidPageTokenError);
        await assert.rejects(repo.listSessions(realm, { pageSize: 1, pageToken: nextPageToken, activeAt: T0 }), InvalidPageTokenError);
        await assert.rejects(repo.listSessions(await newRealm(), { pageSize: 1, pageToken: nextPageToken }), InvalidPageTokenError);
        await assert.rejects(repo.listEvents(realm, { pageSize: 1, pageToken: nextPageToken }), InvalidPageTokenError);
      });
    });

    describe("refresh tokens", () => {
      it("storeRefreshToken then findRefreshToken returns an equal record, act with nested claims and odd claim names included", async () => {
        const realm = await newRealm();
        const record = makeRefreshToken();
        await repo.storeRefreshToken(realm, record);
        const got = await repo.findRefreshToken(realm, record.tokenHash);
        assert.deepEqual(got, record);
        assert.ok(got?.issuedAt instanceof Date && got.expiresAt instanceof Date);
        assert.ok(!("usedAt" in got), "usedAt is absent, not undefined");
      });

      it("storeRefreshToken without act then the record found has no act property", async () => {
        const realm = await newRealm();
        const record = makeRefreshToken();
        delete record.act;
        await repo.storeRefreshToken(realm, record);
        const got = await repo.findRefreshToken(realm, record.tokenHash);
        assert.deepEqual(got, record);
        assert.ok(got && !("act" in got));
      });

      it("storeRefreshToken when the hash or the jti exists then StorageConflictError and the first record stays", async () => {
        const realm = await newRealm();
        const first = makeRefreshToken();
        await repo.storeRefreshToken(realm, first);
        await assert.rejects(repo.storeRefreshToken(realm, makeRefreshToken({ tokenHash: first.tokenHash })), StorageConflictError);
        const sameJti = makeRefreshToken({ jti: first.jti });
        await assert.rejects(repo.storeRefreshToken(realm, sameJti), StorageConflictError);
        assert.deepEqual(await repo.findRefreshToken(realm, first.tokenHash), first);
        assert.equal(await repo.findRefreshToken(realm, sameJti.tokenHash), undefined);
      });

      it("findRefreshToken when the hash or realm is unknown then undefined", async () => {
        const realm = await newRealm();
        assert.equal(await repo.findRefreshToken(realm, sha256("nothing")), undefined);
        assert.equal(await repo.findRefreshToken(uniqueName(), sha256("nothing")), undefined);
      });

      it("markRefreshTokenUsed first call then true and usedAt stored; later calls then false and usedAt stays", async () => {
        const realm = await newRealm();
        const record = makeRefreshToken();
        await repo.storeRefreshToken(realm, record);
        assert.equal(await repo.markRefreshTokenUsed(realm, record.tokenHash, plus(T0, MINUTE)), true);
        assert.equal(await repo.markRefreshTokenUsed(realm, record.tokenHash, plus(T0, 2 * MINUTE)), false);
        const got = await repo.findRefreshToken(realm, record.tokenHash);
        assert.deepEqual(got, { ...record, usedAt: plus(T0, MINUTE) });
        assert.ok(got?.usedAt instanceof Date);
      });

      it("markRefreshTokenUsed when the token is unknown then false and a token stored later under that hash is unused", async () => {
        const realm = await newRealm();
        const record = makeRefreshToken();
        assert.equal(await repo.markRefreshTokenUsed(realm, record.tokenHash, T0), false);
        await repo.storeRefreshToken(realm, record);
        assert.deepEqual(await repo.findRefreshToken(realm, record.tokenHash), record);
        assert.equal(await repo.markRefreshTokenUsed(realm, record.tokenHash, T0), true);
      });

      it("markRefreshTokenUsed when called 20 times concurrently then exactly one call is true", async () => {
        const realm = await newRealm();
        const record = makeRefreshToken();
        await repo.storeRefreshToken(realm, record);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => repo.markRefreshTokenUsed(realm, record.tokenHash, plus(T0, i))),
        );
        assert.equal(results.filter(Boolean).length, 1);
        const winner = results.indexOf(true);
        assert.deepEqual((await repo.findRefreshToken(realm, record.tokenHash))?.usedAt, plus(T0, winner));
      });

      it("storeRefreshToken of an already used record then findRefreshToken returns it used and it cannot be used again", async () => {
        const realm = await newRealm();
        const record = makeRefreshToken({ usedAt: plus(T0, MINUTE) });
        await repo.storeRefreshToken(realm, record);
        assert.deepEqual(await repo.findRefreshToken(realm, record.tokenHash), record);
        assert.equal(await repo.markRefreshTokenUsed(realm, record.tokenHash, plus(T0, 2 * MINUTE)), false);
      });
    });

    describe("token lineage and revocation", () => {
      it("recordLineage when the parent is not revoked then true and listChildTokens lists the child", async () => {
        const realm = await newRealm();
        const lineage = { parentJti: randomUUID(), childJti: randomUUID(), expiresAt: plus(T0, 5 * MINUTE) };
        assert.equal(await repo.recordLineage(realm, lineage), true);
        const children = await repo.listChildTokens(realm, lineage.parentJti, T0);
        assert.deepEqual(children, [lineage]);
        assert.ok(children[0].expiresAt instanceof Date);
      });

      it("recordLineage when the parent is revoked then false and the child is still recorded for the cascade", async () => {
        const realm = await newRealm();
        const parentJti = randomUUID();
        await repo.revokeToken(realm, parentJti, plus(T0, HOUR));
        const lineage = { parentJti, childJti: randomUUID(), expiresAt: plus(T0, 5 * MINUTE) };
        assert.equal(await repo.recordLineage(realm, lineage), false);
        assert.deepEqual(await repo.listChildTokens(realm, parentJti, T0), [lineage]);
      });

      it("recordLineage called concurrently in two realms then each call answers for its own realm's parent and every child is recorded", async () => {
        const [revokedIn, liveIn] = [await newRealm(), await newRealm()];
        const parentJti = randomUUID();
        await repo.revokeToken(revokedIn, parentJti, plus(T0, HOUR));
        const calls = Array.from({ length: 40 }, (_, i) => {
          const realm = i % 2 === 0 ? revokedIn : liveIn;
          return { realm, lineage: { parentJti: i % 4 < 2 ? parentJti : randomUUID(), childJti: randomUUID(), expiresAt: plus(T0, HOUR) } };
        });
        const live = await Promise.all(calls.map(({ realm, lineage }) => repo.recordLineage(realm, lineage)));
        const expected = calls.map(({ realm, lineage }) => !(realm === revokedIn && lineage.parentJti === parentJti));
        assert.deepEqual(live, expected);
        const byChild = (a: { childJti: string }, b: { childJti: string }) => a.childJti.localeCompare(b.childJti);
        for (const realm of [revokedIn, liveIn]) {
          const recorded = calls.filter((call) => call.realm === realm && call.lineage.parentJti === parentJti).map((call) => call.lineage);
          assert.deepEqual((await repo.listChildTokens(realm, parentJti, T0)).sort(byChild), recorded.sort(byChild));
        }
      });

      it("listChildTokens returns every child of the parent that has not expired at now", async () => {
        const realm = await newRealm();
        const parentJti = randomUUID();
        const child = (minutes: number) => ({ parentJti, childJti: randomUUID(), expiresAt: plus(T0, minutes * MINUTE) });
        const [expired, expiringNow, live, later] = [child(-1), child(0), child(1), child(60)];
        for (const lineage of [expired, expiringNow, live, later]) await repo.recordLineage(realm, lineage);
        await repo.recordLineage(realm, { ...child(60), parentJti: randomUUID() });
        const byChild = (a: { childJti: string }, b: { childJti: string }) => a.childJti.localeCompare(b.childJti);
        const children = await repo.listChildTokens(realm, parentJti, T0);
        assert.deepEqual(children.sort(byChild), [live, later].sort(byChild));
        assert.deepEqual(await repo.listChildTokens(realm, parentJti, plus(T0, 2 * MINUTE)), [later]);
        assert.deepEqual(await repo.listChildTokens(realm, randomUUID(), T0), []);
      });

      it("revokeToken then isTokenRevoked is true; a jti never revoked then false", async () => {
        const realm = await newRealm();
        const jti = randomUUID();
        assert.equal(await repo.isTokenRevoked(realm, jti), false);
        await repo.revokeToken(realm, jti, plus(T0, HOUR));
        assert.equal(await repo.isTokenRevoked(realm, jti), true);
        assert.equal(await repo.isTokenRevoked(realm, randomUUID()), false);
      });

      it("revokeToken twice then idempotent: still revoked, no error", async () => {
        const realm = await newRealm();
        const jti = randomUUID();
        await repo.revokeToken(realm, jti, plus(T0, HOUR));
        await repo.revokeToken(realm, jti, plus(T0, HOUR));
        await repo.revokeToken(realm, jti, plus(T0, MINUTE));
        assert.equal(await repo.isTokenRevoked(realm, jti), true);
      });

      it("revokeToken when called concurrently for one jti then every call resolves and the jti is revoked", async () => {
        const realm = await newRealm();
        const jti = randomUUID();
        await Promise.all(Array.from({ length: 10 }, (_, i) => repo.revokeToken(realm, jti, plus(T0, i * MINUTE))));
        assert.equal(await repo.isTokenRevoked(realm, jti), true);
      });

      it("isTokenRevoked when the revocation's expiresAt has passed then still true until purgeExpired removes it", async () => {
        // The port's choice: isTokenRevoked reads no clock. The token itself is expired by then.
        const realm = await newRealm();
        const jti = randomUUID();
        await repo.revokeToken(realm, jti, new Date("2001-01-01T00:00:00.000Z"));
        assert.equal(await repo.isTokenRevoked(realm, jti), true);
      });
    });

    describe("audit events", () => {
      it("appendEvents then listEvents returns equal events newest first, ties by id ascending", async () => {
        const realm = await newRealm();
        const sameTime = ["b", "a"].map((c) => makeEvent(realm, { id: `${c}-${randomUUID()}`, time: T0 }));
        const older = makeEvent(realm, { time: plus(T0, -MINUTE), result: "failure", error: "invalid_grant" });
        const newer = makeEvent(realm, { time: plus(T0, MINUTE) });
        await repo.appendEvents([sameTime[0], older]);
        await repo.appendEvents([newer, sameTime[1]]);
        const page = await repo.listEvents(realm, { pageSize: 10 });
        assert.deepEqual(page.items, [newer, sameTime[1], sameTime[0], older]);
        assert.ok(page.items[0].time instanceof Date);
        assert.equal(page.nextPageToken, undefined);
      });

      it("appendEvents with only the required fields then the optional ones come back absent", async () => {
        const realm = await newRealm();
        const event: AuditEvent = { id: randomUUID(), time: T0, realm, kind: "logout", result: "success", jtis: [] };
        await repo.appendEvents([{ ...event, error: undefined, subject: undefined }]);
        const [got] = (await repo.listEvents(realm, { pageSize: 10 })).items;
        assert.deepEqual(got, event);
        assert.deepEqual(Object.keys(got).sort(), Object.keys(event).sort());
      });

      it("appendEvents of several realms then each realm lists only its own", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        const ofA = makeEvent(a);
        const ofB = makeEvent(b, { time: plus(T0, 1) });
        await repo.appendEvents([ofA, ofB]);
        assert.deepEqual((await repo.listEvents(a, { pageSize: 10 })).items, [ofA]);
        assert.deepEqual((await repo.listEvents(b, { pageSize: 10 })).items, [ofB]);
      });

      it("appendEvents with no events then nothing happens", async () => {
        const realm = await newRealm();
        await repo.appendEvents([]);
        assert.deepEqual(await repo.listEvents(realm, { pageSize: 10 }), { items: [] });
      });

      it("listEvents pages 25 events by 10 as 10/10/5 newest first without duplicates; the last page has no token", async () => {
        const realm = await newRealm();
        // Five events share each time: ties are ordered by id across page boundaries.
        const events = Array.from({ length: 25 }, (_, i) => makeEvent(realm, { time: plus(T0, Math.floor(i / 5) * SECOND) }));
        await repo.appendEvents(events);
        const pages = await allPages((pageToken) => repo.listEvents(realm, { pageSize: 10, pageToken }));
        assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
        const expected = [...events].sort((x, y) => y.time.getTime() - x.time.getTime() || (x.id < y.id ? -1 : 1));
        assert.deepEqual(pages.flat(), expected);
        assert.equal(new Set(pages.flat().map((e) => e.id)).size, 25);
      });

      it("listEvents with a page token when newer events arrive meanwhile then the next page continues where it was", async () => {
        const realm = await newRealm();
        const events = Array.from({ length: 4 }, (_, i) => makeEvent(realm, { time: plus(T0, -i * SECOND) }));
        await repo.appendEvents(events);
        const first = await repo.listEvents(realm, { pageSize: 2 });
        await repo.appendEvents([makeEvent(realm, { time: plus(T0, HOUR) })]);
        const second = await repo.listEvents(realm, { pageSize: 2, pageToken: first.nextPageToken });
        assert.deepEqual(second.items, events.slice(2));
        assert.equal(second.nextPageToken, undefined);
      });

      it("listEvents filters by kind, clientId, subject and result, each alone and together", async () => {
        const realm = await newRealm();
        const base = makeEvent(realm);
        const byKind = makeEvent(realm, { kind: "revocation", time: plus(T0, 1) });
        const byClient = makeEvent(realm, { clientId: "gateway", time: plus(T0, 2) });
        const bySubject = makeEvent(realm, { subject: "bob-id", time: plus(T0, 3) });
        const byResult = makeEvent(realm, { result: "failure", error: "invalid_request", time: plus(T0, 4) });
        const noClient = makeEvent(realm, { time: plus(T0, 5) });
        delete noClient.clientId;
        delete noClient.subject;
        const all = makeEvent(realm, { kind: "revocation", clientId: "gateway", subject: "bob-id", result: "failure", time: plus(T0, 6) });
        await repo.appendEvents([base, byKind, byClient, bySubject, byResult, noClient, all]);
        const ids = async (query: Parameters<RealmRepository["listEvents"]>[1]) =>
          (await repo.listEvents(realm, query)).items.map((e) => e.id);
        assert.deepEqual(await ids({ pageSize: 10, kind: "revocation" }), [all.id, byKind.id]);
        assert.deepEqual(await ids({ pageSize: 10, clientId: "gateway" }), [all.id, byClient.id]);
        assert.deepEqual(await ids({ pageSize: 10, subject: "bob-id" }), [all.id, bySubject.id]);
        assert.deepEqual(await ids({ pageSize: 10, result: "failure" }), [all.id, byResult.id]);
        assert.deepEqual(await ids({ pageSize: 10, kind: "revocation", clientId: "gateway", subject: "bob-id", result: "failure" }), [all.id]);
        assert.deepEqual(await ids({ pageSize: 10, kind: "logout" }), []);
        assert.equal((await ids({ pageSize: 10 })).length, 7);
      });

      it("listEvents with since includes events at since; with until excludes events at until", async () => {
        const realm = await newRealm();
        const events = Array.from({ length: 5 }, (_, i) => makeEvent(realm, { time: plus(T0, i * MINUTE) }));
        await repo.appendEvents(events);
        const ids = async (query: Parameters<RealmRepository["listEvents"]>[1]) =>
          (await repo.listEvents(realm, query)).items.map((e) => e.id);
        assert.deepEqual(await ids({ pageSize: 10, since: plus(T0, 3 * MINUTE) }), [events[4].id, events[3].id]);
        assert.deepEqual(await ids({ pageSize: 10, until: plus(T0, MINUTE) }), [events[0].id]);
        assert.deepEqual(await ids({ pageSize: 10, since: plus(T0, MINUTE), until: plus(T0, 3 * MINUTE) }), [
          events[2].id,
          events[1].id,
        ]);
        assert.deepEqual(await ids({ pageSize: 10, since: plus(T0, 2 * MINUTE), until: plus(T0, 2 * MINUTE) }), []);
      });

      it("listEvents pages through filtered events with the filters repeated", async () => {
        const realm = await newRealm();
        const events = Array.from({ length: 9 }, (_, i) =>
          makeEvent(realm, { time: plus(T0, i * SECOND), result: i % 3 === 0 ? "failure" : "success" }),
        );
        await repo.appendEvents(events);
        const query = { pageSize: 2, result: "success" as const, since: plus(T0, SECOND) };
        const pages = await allPages((pageToken) => repo.listEvents(realm, { ...query, pageToken }));
        assert.deepEqual(pages.map((p) => p.map((e) => e.time.getTime() - T0.getTime())), [
          [8000, 7000],
          [5000, 4000],
          [2000, 1000],
        ]);
      });

      it("listEvents when pageSize is above 1000 then pages of 1000; below 1 then pages of 1", async () => {
        const realm = await newRealm();
        const events = Array.from({ length: 1001 }, (_, i) => makeEvent(realm, { time: plus(T0, i) }));
        await repo.appendEvents(events);
        const big = await repo.listEvents(realm, { pageSize: 5000 });
        assert.equal(big.items.length, 1000);
        assert.ok(big.nextPageToken);
        const rest = await repo.listEvents(realm, { pageSize: 5000, pageToken: big.nextPageToken });
        assert.deepEqual(rest.items.map((e) => e.id), [events[0].id]);
        const tiny = await repo.listEvents(realm, { pageSize: -3 });
        assert.deepEqual(tiny.items.map((e) => e.id), [events[1000].id]);
        assert.ok(tiny.nextPageToken);
      });

      it("listEvents when the page token is malformed or from other filters then InvalidPageTokenError", async () => {
        const realm = await newRealm();
        await repo.appendEvents([makeEvent(realm), makeEvent(realm, { time: plus(T0, 1) })]);
        const { nextPageToken } = await repo.listEvents(realm, { pageSize: 1, kind: "token_exchange" });
        assert.ok(nextPageToken);
        for (const pageToken of ["%%%", "e30", Buffer.from('{"s":"x","t":"y","i":1}').toString("base64url")]) {
          await assert.rejects(repo.listEvents(realm, { pageSize: 1, kind: "token_exchange", pageToken }), InvalidPageTokenError);
        }
        for (const other of [{}, { kind: "logout" as const }, { kind: "token_exchange" as const, since: T0 }]) {
          await assert.rejects(repo.listEvents(realm, { pageSize: 1, pageToken: nextPageToken, ...other }), InvalidPageTokenError);
        }
        await assert.rejects(repo.listSessions(realm, { pageSize: 1, pageToken: nextPageToken }), InvalidPageTokenError);
        const next = await repo.listEvents(realm, { pageSize: 1, kind: "token_exchange", pageToken: nextPageToken });
        assert.equal(next.items.length, 1);
      });
    });

    describe("purgeExpired", () => {
      // purgeExpired spans every realm, so these tests run on fresh storage and count exactly. Times are
      // relative to P, a "now" two hours ahead of the real clock: used jtis then expire in the real future,
      // so no adapter sweeps them on its own before purgeExpired runs.
      it("purgeExpired deletes exactly what no longer matters at now, in every realm, returns how many, and keeps the rest", async () => {
        await withFreshStorage(async (store) => {
          const P = new Date(Date.now() + 2 * HOUR);
          const eventsBefore = plus(P, -7 * DAY);
          const [a, b] = [uniqueName(), uniqueName()];
          for (const realm of [a, b]) await store.createRealm(makeRealm(realm));
          let gone = 0;
          const goes = <T>(value: T): T => (gone++, value);

          // Used jtis: expired at P (<=) go.
          assert.equal(await store.consumeJti(a, "web", "jti-gone", goes(plus(P, -HOUR))), true);
          assert.equal(await store.consumeJti(b, "web", "jti-gone-at-P", goes(P)), true);
          assert.equal(await store.consumeJti(a, "web", "jti-kept", plus(P, HOUR)), true);
          // Revocations.
          await store.revokeToken(a, "rev-gone", goes(plus(P, -1)));
          await store.revokeToken(b, "rev-gone-at-P", goes(P));
          await store.revokeToken(a, "rev-kept", plus(P, 1));
          // Lineage.
          await store.recordLineage(a, { parentJti: "parent", childJti: "child-gone", expiresAt: goes(plus(P, -1)) });
          await store.recordLineage(b, { parentJti: "parent", childJti: "child-gone", expiresAt: goes(P) });
          const keptChild = { parentJti: "parent", childJti: "child-kept", expiresAt: plus(P, MINUTE) };
          await store.recordLineage(a, keptChild);
          // Refresh tokens, used or not.
          const tokenGone = makeRefreshToken({ expiresAt: goes(plus(P, -1)) });
          const usedTokenGone = makeRefreshToken({ expiresAt: goes(P) });
          const tokenKept = makeRefreshToken({ expiresAt: plus(P, 1) });
          const usedTokenKept = makeRefreshToken({ expiresAt: plus(P, HOUR) });
          for (const t of [tokenGone, usedTokenGone, tokenKept, usedTokenKept]) await store.storeRefreshToken(a, t);
          assert.equal(await store.markRefreshTokenUsed(a, usedTokenGone.tokenHash, plus(P, -2 * HOUR)), true);
          assert.equal(await store.markRefreshTokenUsed(a, usedTokenKept.tokenHash, plus(P, -2 * HOUR)), true);
          // Sessions: ended or expired more than a day before P go.
          const started = plus(P, -3 * DAY);
          const s = (overrides: Partial<Session>) => makeSession({ startedAt: started, maxExpiresAt: plus(P, DAY), ...overrides });
          // Idle timeout 30 min; the cutoff is P - 1 d.
          const endedLongAgo = s({ lastActiveAt: plus(P, -DAY - 2 * MINUTE) }); // ends at cutoff - 1 min, idle after it
          const endedRecently = s({ lastActiveAt: plus(P, -DAY) }); // ends at cutoff + 1 min
          const idleLongAgo = s({ lastActiveAt: plus(P, -DAY - 31 * MINUTE) }); // idle at cutoff - 1 min
          const idleRecently = s({ lastActiveAt: plus(P, -DAY - 29 * MINUTE) }); // idle at cutoff + 1 min
          const maxedLongAgo = s({ lastActiveAt: plus(P, -DAY - 5 * MINUTE), maxExpiresAt: plus(P, -DAY - MINUTE) });
          const touchedBack = s({ lastActiveAt: plus(P, -DAY - 40 * MINUTE) }); // idle at cutoff - 10 min, unless touched
          const active = s({ lastActiveAt: plus(P, -MINUTE) });
          for (const session of [endedLongAgo, endedRecently, idleLongAgo, idleRecently, maxedLongAgo, touchedBack, active]) {
            await store.createSession(b, session);
          }
          gone += 3; // endedLongAgo, idleLongAgo, maxedLongAgo
          assert.equal(await store.endSession(b, endedLongAgo.id, plus(P, -DAY - MINUTE), "logout"), true);
          assert.equal(await store.endSession(b, endedRecently.id, plus(P, -DAY + MINUTE), "admin"), true);
          await store.touchSession(b, touchedBack.id, plus(P, -DAY - 11 * MINUTE)); // idle at cutoff + 19 min
          // Events older than eventsBefore go; one at eventsBefore stays.
          const eventGone = makeEvent(a, { time: goes(plus(eventsBefore, -1)) });
          const eventGoneToo = makeEvent(b, { time: goes(plus(eventsBefore, -DAY)) });
          const eventAtBound = makeEvent(a, { time: eventsBefore });
          const eventNew = makeEvent(b, { time: P });
          await store.appendEvents([eventGone, eventGoneToo, eventAtBound, eventNew]);

          assert.equal(await store.purgeExpired(P, eventsBefore), gone);

          assert.equal(await store.consumeJti(a, "web", "jti-gone", plus(P, HOUR)), true);
          assert.equal(await store.consumeJti(b, "web", "jti-gone-at-P", plus(P, HOUR)), true);
          assert.equal(await store.consumeJti(a, "web", "jti-kept", plus(P, HOUR)), false);
          assert.equal(await store.isTokenRevoked(a, "rev-gone"), false);
          assert.equal(await store.isTokenRevoked(b, "rev-gone-at-P"), false);
          assert.equal(await store.isTokenRevoked(a, "rev-kept"), true);
          assert.deepEqual(await store.listChildTokens(a, "parent", plus(P, -DAY)), [keptChild]);
          assert.deepEqual(await store.listChildTokens(b, "parent", plus(P, -DAY)), []);
          assert.equal(await store.findRefreshToken(a, tokenGone.tokenHash), undefined);
          assert.equal(await store.findRefreshToken(a, usedTokenGone.tokenHash), undefined);
          assert.deepEqual(await store.findRefreshToken(a, tokenKept.tokenHash), tokenKept);
          assert.deepEqual(await store.findRefreshToken(a, usedTokenKept.tokenHash), { ...usedTokenKept, usedAt: plus(P, -2 * HOUR) });
          for (const session of [endedLongAgo, idleLongAgo, maxedLongAgo]) {
            assert.equal(await store.getSession(b, session.id), undefined, session.id);
          }
          const kept = (await store.listSessions(b, { pageSize: 10 })).items.map((x) => x.id).sort();
          assert.deepEqual(kept, [endedRecently.id, idleRecently.id, touchedBack.id, active.id].sort());
          const events = (await store.listEvents(a, { pageSize: 10 })).items.concat((await store.listEvents(b, { pageSize: 10 })).items);
          assert.deepEqual(events.map((e) => e.id).sort(), [eventAtBound.id, eventNew.id].sort());

          // Nothing is left to purge at the same moment; the storage still works for the kept records.
          assert.equal(await store.purgeExpired(P, eventsBefore), 0);
          assert.equal(await store.markRefreshTokenUsed(a, tokenKept.tokenHash, P), true);
          assert.equal(await store.endSession(b, active.id, P, "logout"), true);
        });
      });

      it("purgeExpired when a purged token's hash, session id or jti is stored again then it starts afresh", async () => {
        await withFreshStorage(async (store) => {
          const realm = uniqueName();
          await store.createRealm(makeRealm(realm));
          const P = new Date(Date.now() + 2 * HOUR);
          const token = makeRefreshToken({ expiresAt: plus(P, -1) });
          const session = makeSession({ startedAt: plus(P, -3 * DAY), maxExpiresAt: plus(P, -2 * DAY) });
          await store.storeRefreshToken(realm, token);
          await store.markRefreshTokenUsed(realm, token.tokenHash, plus(P, -HOUR));
          await store.createSession(realm, session);
          await store.endSession(realm, session.id, plus(P, -2 * DAY), "logout");
          await store.revokeToken(realm, "jti", plus(P, -1));
          assert.equal(await store.purgeExpired(P, new Date(0)), 3);
          const again = { ...token, expiresAt: plus(P, HOUR) };
          await store.storeRefreshToken(realm, again);
          assert.deepEqual(await store.findRefreshToken(realm, token.tokenHash), again);
          await store.createSession(realm, session);
          assert.deepEqual(await store.getSession(realm, session.id), session);
          assert.equal(await store.endSession(realm, session.id, P, "admin"), true);
          await store.revokeToken(realm, "jti", plus(P, HOUR));
          assert.equal(await store.isTokenRevoked(realm, "jti"), true);
        });
      });

      it("revokeToken again with a later expiresAt then the revocation is kept until the later one, never shortened", async () => {
        await withFreshStorage(async (store) => {
          const realm = uniqueName();
          await store.createRealm(makeRealm(realm));
          await store.revokeToken(realm, "jti", plus(T0, HOUR));
          await store.revokeToken(realm, "jti", plus(T0, 2 * HOUR));
          await store.revokeToken(realm, "jti", plus(T0, 30 * MINUTE));
          assert.equal(await store.purgeExpired(plus(T0, 90 * MINUTE), new Date(0)), 0);
          assert.equal(await store.isTokenRevoked(realm, "jti"), true);
          assert.equal(await store.purgeExpired(plus(T0, 2 * HOUR), new Date(0)), 1);
          assert.equal(await store.isTokenRevoked(realm, "jti"), false);
        });
      });
    });

    describe("new records and realms", () => {
      /** One record of every new kind in `realm`; returns what to look them up by. */
      async function fillRealm(realm: string) {
        const session = makeSession();
        const token = makeRefreshToken({ sessionId: session.id });
        const lineage = { parentJti: token.jti, childJti: randomUUID(), expiresAt: plus(T0, HOUR) };
        const event = makeEvent(realm, { sessionId: session.id });
        await repo.createSession(realm, session);
        await repo.storeRefreshToken(realm, token);
        await repo.recordLineage(realm, lineage);
        await repo.revokeToken(realm, lineage.childJti, plus(T0, HOUR));
        await repo.appendEvents([event]);
        return { session, token, lineage, event };
      }

      it("deleteRealm removes the realm's sessions, refresh tokens, lineage, revocations and events, and a new realm of that name inherits none", async () => {
        const name = await newRealm();
        const { session, token, lineage } = await fillRealm(name);
        await repo.endSession(name, session.id, T0, "logout");
        await repo.markRefreshTokenUsed(name, token.tokenHash, T0);
        assert.equal(await repo.deleteRealm(name), true);
        const check = async () => {
          assert.equal(await repo.getSession(name, session.id), undefined);
          assert.deepEqual(await repo.listSessions(name, { pageSize: 10 }), { items: [] });
          assert.equal(await repo.findRefreshToken(name, token.tokenHash), undefined);
          assert.deepEqual(await repo.listChildTokens(name, lineage.parentJti, T0), []);
          assert.equal(await repo.isTokenRevoked(name, lineage.childJti), false);
          assert.deepEqual(await repo.listEvents(name, { pageSize: 10 }), { items: [] });
        };
        await check();
        await repo.createRealm(makeRealm(name));
        await check();
        // Same ids again: no conflict, nothing used or ended.
        await repo.createSession(name, session);
        assert.deepEqual(await repo.getSession(name, session.id), session);
        await repo.storeRefreshToken(name, token);
        assert.equal(await repo.markRefreshTokenUsed(name, token.tokenHash, T0), true);
      });

      it("deleteRealm of realm B leaves realm A's sessions, refresh tokens, lineage, revocations and events in place", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        const inA = await fillRealm(a);
        await fillRealm(b);
        await repo.deleteRealm(b);
        assert.deepEqual(await repo.getSession(a, inA.session.id), inA.session);
        assert.deepEqual(await repo.findRefreshToken(a, inA.token.tokenHash), inA.token);
        assert.deepEqual(await repo.listChildTokens(a, inA.lineage.parentJti, T0), [inA.lineage]);
        assert.equal(await repo.isTokenRevoked(a, inA.lineage.childJti), true);
        assert.deepEqual((await repo.listEvents(a, { pageSize: 10 })).items, [inA.event]);
      });

      it("records of realm A are never visible from realm B, and B's writes with the same keys never touch A's", async () => {
        const [a, b] = [await newRealm(), await newRealm()];
        const { session, token, lineage } = await fillRealm(a);
        assert.equal(await repo.getSession(b, session.id), undefined);
        assert.deepEqual((await repo.listSessions(b, { pageSize: 10 })).items, []);
        assert.deepEqual((await repo.listSessions(b, { pageSize: 10, userId: session.userId })).items, []);
        assert.equal(await repo.findRefreshToken(b, token.tokenHash), undefined);
        assert.deepEqual(await repo.listChildTokens(b, lineage.parentJti, T0), []);
        assert.equal(await repo.isTokenRevoked(b, lineage.childJti), false);
        assert.deepEqual((await repo.listEvents(b, { pageSize: 10 })).items, []);

        await repo.touchSession(b, session.id, plus(T0, MINUTE));
        assert.equal(await repo.endSession(b, session.id, T0, "admin"), false);
        assert.equal(await repo.markRefreshTokenUsed(b, token.tokenHash, T0), false);
        await repo.revokeToken(b, lineage.parentJti, plus(T0, HOUR));
        assert.deepEqual(await repo.getSession(a, session.id), session);
        assert.deepEqual(await repo.findRefreshToken(a, token.tokenHash), token);
        assert.equal(await repo.isTokenRevoked(a, lineage.parentJti), false);
        // A's revoked child is no revoked parent in B.
        const childOfRevoked = { parentJti: lineage.childJti, childJti: randomUUID(), expiresAt: plus(T0, HOUR) };
        assert.equal(await repo.recordLineage(b, childOfRevoked), true);
        assert.equal(await repo.recordLineage(a, childOfRevoked), false);
        // The same session id, token hash and jti may exist in both realms.
        await repo.createSession(b, session);
        await repo.storeRefreshToken(b, token);
        assert.equal(await repo.markRefreshTokenUsed(b, token.tokenHash, T0), true);
        assert.equal(await repo.endSession(b, session.id, T0, "admin"), true);
        assert.equal((await repo.findRefreshToken(a, token.tokenHash))?.usedAt, undefined);
        assert.equal((await repo.getSession(a, session.id))?.endedAt, undefined);
      });

      it("mutating a returned session, refresh token, lineage or event changes nothing stored", async () => {
        const realm = await newRealm();
        const { session, token, lineage, event } = await fillRealm(realm);
        const gotSession = await repo.getSession(realm, session.id);
        const [listedSession] = (await repo.listSessions(realm, { pageSize: 1 })).items;
        const gotToken = await repo.findRefreshToken(realm, token.tokenHash);
        const [gotLineage] = await repo.listChildTokens(realm, lineage.parentJti, T0);
        const [gotEvent] = (await repo.listEvents(realm, { pageSize: 1 })).items;
        assert.ok(gotSession && gotToken && gotLineage && gotEvent && listedSession);
        gotSession.lastActiveAt.setTime(0);
        gotSession.endedAt = T0;
        listedSession.userId = "mallory";
        gotToken.scopes.push("admin");
        gotToken.usedAt = T0;
        (gotToken.act as { sub: string }).sub = "mallory";
        gotLineage.expiresAt.setTime(0);
        gotEvent.jtis.push("x");
        gotEvent.time.setTime(0);
        assert.deepEqual(await repo.getSession(realm, session.id), session);
        assert.deepEqual(await repo.findRefreshToken(realm, token.tokenHash), token);
        assert.deepEqual(await repo.listChildTokens(realm, lineage.parentJti, T0), [lineage]);
        assert.deepEqual((await repo.listEvents(realm, { pageSize: 1 })).items, [event]);
      });

      it("mutating a session, refresh token, lineage or event after passing it in changes nothing stored", async () => {
        const realm = await newRealm();
        const session = makeSession();
        const token = makeRefreshToken();
        const lineage = { parentJti: randomUUID(), childJti: randomUUID(), expiresAt: plus(T0, HOUR) };
        const event = makeEvent(realm);
        const expected = structuredClone({ session, token, lineage, event });
        await repo.createSession(realm, session);
        await repo.storeRefreshToken(realm, token);
        await repo.recordLineage(realm, lineage);
        await repo.appendEvents([event]);
        const at = plus(T0, MINUTE);
        await repo.touchSession(realm, session.id, at);
        session.userId = "mallory";
        session.maxExpiresAt.setTime(0);
        token.audience.push("evil");
        (token.act as { act: { sub: string } }).act.sub = "mallory";
        lineage.expiresAt.setTime(0);
        event.jtis.length = 0;
        at.setTime(0);
        assert.deepEqual(await repo.getSession(realm, session.id), { ...expected.session, lastActiveAt: plus(T0, MINUTE) });
        assert.deepEqual(await repo.findRefreshToken(realm, token.tokenHash), expected.token);
        assert.deepEqual(await repo.listChildTokens(realm, lineage.parentJti, T0), [expected.lineage]);
        assert.deepEqual((await repo.listEvents(realm, { pageSize: 1 })).items, [expected.event]);
      });
    });

    describe("two instances on one storage", () => {
      it("a revocation by one instance is seen by the other at once, and by its recordLineage", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealm();
          const jti = randomUUID();
          await repo.revokeToken(realm, jti, plus(T0, HOUR));
          assert.equal(await second.isTokenRevoked(realm, jti), true);
          const lineage = { parentJti: jti, childJti: randomUUID(), expiresAt: plus(T0, HOUR) };
          assert.equal(await second.recordLineage(realm, lineage), false);
          assert.deepEqual(await repo.listChildTokens(realm, jti, T0), [lineage]);
        });
      });

      it("createLink when 20 calls for one external user (different user ids) race on two instances then exactly one succeeds", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealmWithProviders("corp");
          const externalUserId = randomUUID();
          const links = Array.from({ length: 20 }, () => makeLink("corp", { externalUserId }));
          const results = await Promise.allSettled(links.map((link, i) => (i % 2 ? second : repo).createLink(realm, link)));
          const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [links[i]] : []));
          assert.equal(winners.length, 1);
          for (const r of results) if (r.status === "rejected") assert.ok(r.reason instanceof StorageConflictError, String(r.reason));
          for (const instance of [repo, second]) {
            assert.deepEqual(await instance.findLink(realm, "corp", externalUserId), winners[0]);
            assert.deepEqual(await instance.findLinkOfUser(realm, "corp", winners[0].userId), winners[0]);
          }
          for (const loser of links.filter((l) => l !== winners[0])) {
            assert.deepEqual(await second.listLinksOfUser(realm, loser.userId), []);
          }
        });
      });

      it("a link made by one instance is found by the other, and the other's token store is seen by the first", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealmWithProviders("corp");
          const link = makeLink("corp");
          await repo.createLink(realm, link);
          assert.deepEqual(await second.findLink(realm, "corp", link.externalUserId), link);
          await assert.rejects(second.createLink(realm, makeLink("corp", { userId: link.userId })), StorageConflictError);
          const token = makeStoredToken();
          await second.storeLinkToken(realm, "corp", link.userId, token);
          assert.deepEqual(await repo.findLinkOfUser(realm, "corp", link.userId), { ...link, storedToken: token });
        });
      });

      it("createLink racing deleteIdentityProvider on two instances then no link outlives the provider", async () => {
        await withSecondInstance(async (second) => {
          for (let round = 0; round < 3; round++) {
            const realm = await newRealmWithProviders("corp");
            const links = Array.from({ length: 10 }, () => makeLink("corp"));
            const [results] = await Promise.all([
              Promise.allSettled(links.map((link) => second.createLink(realm, link))),
              repo.deleteIdentityProvider(realm, "corp"),
            ]);
            for (const r of results) {
              if (r.status === "rejected") assert.ok(r.reason instanceof StorageNotFoundError, String(r.reason));
            }
            await repo.createIdentityProvider(realm, makeProvider("corp"));
            for (const link of links) {
              assert.equal(await repo.findLink(realm, "corp", link.externalUserId), undefined);
              assert.deepEqual(await second.listLinksOfUser(realm, link.userId), []);
            }
          }
        });
      });

      it("createLink racing deleteRealm on two instances then no link outlives the realm", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealmWithProviders("corp");
          const links = Array.from({ length: 10 }, () => makeLink("corp"));
          const [results] = await Promise.all([
            Promise.allSettled(links.map((link) => second.createLink(realm, link))),
            repo.deleteRealm(realm),
          ]);
          for (const r of results) {
            if (r.status === "rejected") assert.ok(r.reason instanceof StorageNotFoundError, String(r.reason));
          }
          for (const link of links) assert.equal(await second.findLink(realm, "corp", link.externalUserId), undefined);
          await repo.createRealm(makeRealm(realm));
          await repo.createIdentityProvider(realm, makeProvider("corp"));
          for (const link of links) assert.equal(await repo.findLink(realm, "corp", link.externalUserId), undefined);
        });
      });

      it("a session ended by one instance is ended for the other at once; the other's end then false", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealm();
          const session = makeSession();
          await second.createSession(realm, session);
          assert.equal(await repo.endSession(realm, session.id, plus(T0, MINUTE), "logout"), true);
          const seen = await second.getSession(realm, session.id);
          assert.deepEqual(seen, { ...session, endedAt: plus(T0, MINUTE), endReason: "logout" });
          assert.equal(await second.endSession(realm, session.id, plus(T0, 2 * MINUTE), "admin"), false);
          assert.deepEqual((await second.listSessions(realm, { pageSize: 10, activeAt: plus(T0, MINUTE) })).items, []);
        });
      });

      it("markRefreshTokenUsed when 20 calls race on two instances then exactly one is true", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealm();
          const record = makeRefreshToken();
          await repo.storeRefreshToken(realm, record);
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => (i % 2 ? second : repo).markRefreshTokenUsed(realm, record.tokenHash, plus(T0, i))),
          );
          assert.equal(results.filter(Boolean).length, 1);
          const winner = results.indexOf(true);
          assert.deepEqual((await second.findRefreshToken(realm, record.tokenHash))?.usedAt, plus(T0, winner));
        });
      });

      it("endSession when 10 calls race on two instances then exactly one is true and its end is the one stored", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealm();
          const session = makeSession();
          await repo.createSession(realm, session);
          const reasons = ["logout", "admin", "refresh_token_reuse"] as const;
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              (i % 2 ? second : repo).endSession(realm, session.id, plus(T0, i * SECOND), reasons[i % 3]),
            ),
          );
          assert.equal(results.filter(Boolean).length, 1);
          const winner = results.indexOf(true);
          const ended = await repo.getSession(realm, session.id);
          assert.deepEqual(ended, { ...session, endedAt: plus(T0, winner * SECOND), endReason: reasons[winner % 3] });
        });
      });

      it("touchSession racing endSession on two instances then the session ends anyway", async () => {
        await withSecondInstance(async (second) => {
          const realm = await newRealm();
          const session = makeSession();
          await repo.createSession(realm, session);
          const [, ended] = await Promise.all([
            Promise.all(Array.from({ length: 5 }, (_, i) => second.touchSession(realm, session.id, plus(T0, (i + 1) * SECOND)))),
            repo.endSession(realm, session.id, plus(T0, 3 * SECOND), "logout"),
          ]);
          assert.equal(ended, true);
          for (const instance of [repo, second]) {
            const got = await instance.getSession(realm, session.id);
            assert.deepEqual(got?.endedAt, plus(T0, 3 * SECOND));
            assert.equal(got?.endReason, "logout");
          }
          assert.deepEqual((await second.listSessions(realm, { pageSize: 10, activeAt: plus(T0, 10 * SECOND) })).items, []);
        });
      });
    });
  });
}
