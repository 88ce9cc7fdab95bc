/**
 * AdminService resources (issue 5 item 2): paging and filters of every listing, users and their
 * links, client secret rotation; through a real gRPC client and the Connect protocol.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, type Client } from "@connectrpc/connect";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { ADMIN_SUITE_MASTER_KEY, connectErrorOf } from "./admin-auth.suite.js";

/** Every item of a listing, page by page, with the page sizes seen. */
async function allPages<T>(list: (pageToken: string) => Promise<{ items: T[]; next: string }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let token = "";
  let pages = 0;
  do {
    const page = await list(token);
    items.push(...page.items);
    token = page.next;
    pages++;
  } while (token !== "" && pages < 100);
  return { items, pages };
}

/** The AdminService resource methods against one storage adapter. */
export function runAdminResourcesSuite(storage: string, openRepository: () => Promise<RealmRepository>): void {
  describe(`AdminService resources (${storage})`, () => {
    let tessera: TesseraHarness;
    let realm: string;
    let connect: Client<typeof AdminService>;
    let grpc: Client<typeof AdminService>;

    before(async () => {
      tessera = await startTessera({ repository: await openRepository(), masterKey: ADMIN_SUITE_MASTER_KEY });
      realm = `res-${randomUUID().slice(0, 8)}`;
      await tessera.repository.importRealm((await buildTestRealm(realm)).bundle);
      const caller = await tessera.adminCaller();
      connect = caller.admin("connect");
      grpc = caller.admin("grpc");
    });
    after(async () => {
      await tessera.stop();
      await tessera.repository.close();
    });

    describe("paging and filters", () => {
      it("ListClients pages by client_id with an opaque token; pages join up to the whole listing (gRPC)", async () => {
        const whole = (await grpc.listClients({ realm, pageSize: 1000 })).clients.map((c) => c.clientId);
        assert.deepEqual(whole, [...whole].sort());
        const paged = await allPages(async (pageToken) => {
          const page = await grpc.listClients({ realm, pageSize: 3, pageToken });
          assert.ok(page.clients.length <= 3);
          return { items: page.clients.map((c) => c.clientId), next: page.nextPageToken };
        });
        assert.deepEqual(paged.items, whole);
        assert.equal(paged.pages, Math.ceil(whole.length / 3));
      });

      it("ListClients filters by client_id prefix, enabled and service account", async () => {
        const impersonators = await connect.listClients({ realm, clientIdPrefix: "impersonat" });
        assert.deepEqual(impersonators.clients.map((c) => c.clientId), ["impersonate-all", "impersonate-sales", "impersonator"]);
        assert.deepEqual((await connect.listClients({ realm, enabled: false })).clients.map((c) => c.clientId), ["retired"]);
        const withoutAccount = (await connect.listClients({ realm, serviceAccount: false })).clients.map((c) => c.clientId);
        assert.ok(withoutAccount.includes("cli") && !withoutAccount.includes("gateway"));
      });

      it("a page token used with other filters, or made up, is INVALID_ARGUMENT", async () => {
        const first = await connect.listClients({ realm, pageSize: 1 });
        assert.equal((await connectErrorOf(connect.listClients({ realm, pageSize: 1, clientIdPrefix: "g", pageToken: first.nextPageToken }))).code, Code.InvalidArgument);
        assert.equal((await connectErrorOf(connect.listClients({ realm, pageToken: "not-a-token!" }))).code, Code.InvalidArgument);
        assert.equal((await connectErrorOf(connect.listScopes({ realm, pageToken: first.nextPageToken }))).code, Code.InvalidArgument);
      });

      it("ListScopes and ListRealms page and filter by name prefix", async () => {
        const scopes = await allPages(async (pageToken) => {
          const page = await connect.listScopes({ realm, pageSize: 2, pageToken });
          return { items: page.scopes.map((s) => s.name), next: page.nextPageToken };
        });
        assert.deepEqual(scopes.items, ["cli.use", "inventory.read", "orders.read", "orders.write", "profile"]);
        assert.deepEqual((await connect.listScopes({ realm, namePrefix: "orders." })).scopes.map((s) => s.name), ["orders.read", "orders.write"]);
        const extra = [`${realm}-x1`, `${realm}-x2`, `${realm}-x3`];
        for (const name of extra) await connect.createRealm({ realm: { name } });
        const realms = await allPages(async (pageToken) => {
          const page = await grpc.listRealms({ pageSize: 2, pageToken, namePrefix: realm });
          return { items: page.realms.map((r) => r.name), next: page.nextPageToken };
        });
        assert.deepEqual(realms.items, [realm, ...extra]);
        for (const name of extra) await connect.deleteRealm({ name });
      });

      it("ListIdentityProviders pages and filters by alias prefix and enabled", async () => {
        const jwksJson = JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "k" }] });
        for (const [alias, enabled] of [["ci-a", true], ["ci-b", false], ["partner", true]] as const) {
          await connect.createIdentityProvider({ realm, identityProvider: { alias, enabled, issuer: `https://${alias}.example.com`, jwksJson, audiences: ["tessera"] } });
        }
        const first = await connect.listIdentityProviders({ realm, pageSize: 2 });
        assert.deepEqual(first.identityProviders.map((p) => p.alias), ["ci-a", "ci-b"]);
        const second = await connect.listIdentityProviders({ realm, pageSize: 2, pageToken: first.nextPageToken });
        assert.deepEqual(second.identityProviders.map((p) => p.alias), ["partner"]);
        assert.equal(second.nextPageToken, "");
        assert.deepEqual((await grpc.listIdentityProviders({ realm, aliasPrefix: "ci-", enabled: true })).identityProviders.map((p) => p.alias), ["ci-a"]);
      });
    });

    describe("users", () => {
      it("CreateUser, GetUser by id and by username, UpdateUser, DeleteUser (Connect)", async () => {
        const { user } = await connect.createUser({
          realm,
          user: { username: "zoe", email: "zoe@example.com", attributes: { department: { values: ["sales", "emea"] } } },
        });
        assert.ok(user?.id);
        assert.equal(user?.enabled, true);
        assert.deepEqual(user?.attributes.department?.values, ["sales", "emea"]);
        assert.deepEqual((await connect.getUser({ realm, userId: user.id })).user, user);
        assert.deepEqual((await connect.getUser({ realm, username: "zoe" })).user, user);
        const updated = await connect.updateUser({ realm, user: { id: user.id, email: "", enabled: false }, updateMask: { paths: ["email", "enabled"] } });
        assert.deepEqual(updated.user?.attributes.department?.values, ["sales", "emea"], "fields outside the mask are kept");
        assert.equal(updated.user?.email, "");
        assert.equal(updated.user?.enabled, false);
        assert.equal((await tessera.repository.getUser(realm, user.id))?.enabled, false);
        await connect.deleteUser({ realm, userId: user.id });
        assert.equal((await connectErrorOf(connect.getUser({ realm, userId: user.id }))).code, Code.NotFound);
        assert.equal((await connectErrorOf(connect.deleteUser({ realm, userId: user.id }))).code, Code.NotFound);
      });

      it("CreateUser with a taken username is ALREADY_EXISTS; an empty username INVALID_ARGUMENT naming user.username", async () => {
        assert.equal((await connectErrorOf(grpc.createUser({ realm, user: { username: "alice" } }))).code, Code.AlreadyExists);
        const error = await connectErrorOf(grpc.createUser({ realm, user: { username: "" } }));
        assert.equal(error.code, Code.InvalidArgument);
        assert.match(error.rawMessage, /user\.username/);
        assert.equal((await connectErrorOf(grpc.getUser({ realm }))).code, Code.InvalidArgument);
      });

      it("ListUsers pages by username and filters by prefix, email and enabled (gRPC)", async () => {
        const names = (await allPages(async (pageToken) => {
          const page = await grpc.listUsers({ realm, pageSize: 2, pageToken });
          return { items: page.users.map((u) => u.username), next: page.nextPageToken };
        })).items;
        assert.deepEqual(names, ["alice", "bob", "carol"]);
        assert.deepEqual((await grpc.listUsers({ realm, enabled: false })).users.map((u) => u.username), ["carol"]);
        assert.deepEqual((await grpc.listUsers({ realm, usernamePrefix: "b" })).users.map((u) => u.username), ["bob"]);
        assert.deepEqual((await grpc.listUsers({ realm, email: "alice@example.com" })).users.map((u) => u.username), ["alice"]);
      });

      it("ListUserLinks shows a user's links without their stored tokens; DeleteUser removes them and ends the user's sessions", async () => {
        const { user } = await connect.createUser({ realm, user: { username: `linked-${randomUUID().slice(0, 6)}` } });
        assert.ok(user);
        const jwks = { keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "k" }] };
        const alias = `idp-${randomUUID().slice(0, 6)}`;
        await tessera.repository.createIdentityProvider(realm, {
          alias, enabled: true, issuer: "https://links.example.com", jwks, audiences: ["x"], algorithms: ["ES256"],
          claims: { userId: "sub", username: "preferred_username", email: "email", attributes: {} }, conditions: [], userPolicy: "create", storeTokens: true,
        });
        const expiresAt = new Date(Date.now() + 60_000);
        await tessera.repository.createLink(realm, { alias, externalUserId: "ext-1", userId: user.id, createdAt: new Date(), storedToken: { encryptedToken: "secret-jwe", tokenType: "urn:ietf:params:oauth:token-type:access_token", expiresAt, storedAt: new Date() } });
        const { links } = await grpc.listUserLinks({ realm, userId: user.id });
        assert.equal(links.length, 1);
        assert.equal(links[0].alias, alias);
        assert.equal(links[0].externalUserId, "ext-1");
        assert.equal(links[0].hasStoredToken, true);
        assert.doesNotMatch(JSON.stringify(links[0], (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)), /secret-jwe/);
        const now = new Date();
        await tessera.repository.createSession(realm, { id: randomUUID(), userId: user.id, clientId: "impersonate-all", startedAt: now, lastActiveAt: now, idleTimeout: 600, maxExpiresAt: new Date(now.getTime() + 3_600_000) });
        await grpc.deleteUser({ realm, userId: user.id });
        assert.equal(await tessera.repository.findLink(realm, alias, "ext-1"), undefined);
        assert.deepEqual((await tessera.repository.listSessions(realm, { userId: user.id, activeAt: new Date(), pageSize: 10 })).items, []);
        assert.equal((await connectErrorOf(grpc.listUserLinks({ realm, userId: user.id }))).code, Code.NotFound);
      });
    });

    describe("client secrets", () => {
      it("RotateClientSecret returns a new secret once: it works, the old one does not, and nothing reads it back", async () => {
        const { secret, client } = await grpc.rotateClientSecret({ realm, clientId: "no-exchange" });
        assert.ok(secret.length >= 43);
        assert.equal(client?.hasSecret, true);
        assert.equal(client?.secret, "");
        const url = tessera.tokenUrl(realm);
        assert.equal((await postForm(url, { grant_type: "client_credentials" }, { basic: ["no-exchange", secret] })).status, 200);
        assert.equal((await postForm(url, { grant_type: "client_credentials" }, { basic: ["no-exchange", SECRETS["no-exchange"]] })).status, 401);
        const read = await connect.getClient({ realm, clientId: "no-exchange" });
        assert.doesNotMatch(JSON.stringify(read.client), new RegExp(secret));
        const again = await connect.rotateClientSecret({ realm, clientId: "no-exchange" });
        assert.notEqual(again.secret, secret);
      });

      it("RotateClientSecret of a private_key_jwt client adds the secret methods; of a public client FAILED_PRECONDITION; unknown NOT_FOUND", async () => {
        const { client } = await connect.rotateClientSecret({ realm, clientId: "batch-job" });
        assert.deepEqual(client?.authMethods, ["private_key_jwt", "client_secret_basic", "client_secret_post"]);
        assert.equal((await connectErrorOf(connect.rotateClientSecret({ realm, clientId: "cli" }))).code, Code.FailedPrecondition);
        assert.equal((await connectErrorOf(connect.rotateClientSecret({ realm, clientId: "nobody" }))).code, Code.NotFound);
      });
    });
  });
}
