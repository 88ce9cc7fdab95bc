/**
 * AdminService authentication and authorization (issue 5 item 1): bearer tokens of the master
 * realm, the admin scopes, and each refusal, through a real gRPC client and the Connect protocol.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { ADMIN_RULES } from "../../src/rpc/admin-auth.js";
import { bootstrapAdmin } from "../../src/admin/bootstrap.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { TestClock } from "../support/test-clock.js";
import type { AdminCaller } from "../support/admin-client.js";

/** The master key of every instance of the admin suites: instances sharing storage share it, as in production. */
export const ADMIN_SUITE_MASTER_KEY = new Uint8Array(32).fill(5);

/** Runs `promise` and returns the ConnectError it rejects with. */
export async function connectErrorOf(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

/** The AdminService authentication and authorization rules against one storage adapter. */
export function runAdminAuthSuite(storage: string, openRepository: () => Promise<RealmRepository>): void {
  describe(`AdminService authentication and authorization (${storage})`, () => {
    const clock = new TestClock();
    let tessera: TesseraHarness;
    let realmA: string;
    let realmB: string;
    let full: AdminCaller;

    const withToken = (token: string | undefined, protocol: "grpc" | "connect" = "connect"): Client<typeof AdminService> => {
      const withHeader: Interceptor = (next) => (req) => {
        if (token !== undefined) req.header.set("authorization", token);
        return next(req);
      };
      const interceptors = [withHeader];
      const transport =
        protocol === "grpc"
          ? createGrpcTransport({ baseUrl: tessera.baseUrl, interceptors })
          : createConnectTransport({ baseUrl: tessera.baseUrl, httpVersion: "1.1", interceptors });
      return createClient(AdminService, transport);
    };

    before(async () => {
      // This suite presents bad tokens on purpose; throttling of them is tested in test/http/auth-throttle.test.ts.
      tessera = await startTessera({ repository: await openRepository(), clock, masterKey: ADMIN_SUITE_MASTER_KEY, authThrottle: { enabled: false } });
      realmA = `auth-a-${randomUUID().slice(0, 8)}`;
      realmB = `auth-b-${randomUUID().slice(0, 8)}`;
      await tessera.repository.importRealm((await buildTestRealm(realmA)).bundle);
      await tessera.repository.importRealm((await buildTestRealm(realmB)).bundle);
      full = await tessera.adminCaller(["admin"]);
    });
    after(async () => {
      await tessera.stop();
      await tessera.repository.close();
    });

    for (const protocol of ["grpc", "connect"] as const) {
      it(`a call without a token then UNAUTHENTICATED with a Bearer challenge (${protocol})`, async () => {
        const error = await connectErrorOf(withToken(undefined, protocol).getRealm({ name: realmA }));
        assert.equal(error.code, Code.Unauthenticated);
        assert.match(error.metadata.get("www-authenticate") ?? "", /^Bearer realm="tessera"$/);
      });

      it(`a valid admin token then the call is served (${protocol})`, async () => {
        const { realm } = await withToken(`Bearer ${await full.fetchToken()}`, protocol).getRealm({ name: realmA });
        assert.equal(realm?.name, realmA);
      });
    }

    it("every AdminService method refuses a call without a token before looking at its request", async () => {
      const client = withToken(undefined) as unknown as Record<string, (request: object) => Promise<unknown>>;
      const methods = AdminService.methods.map((m) => m.localName);
      assert.deepEqual([...methods].sort(), Object.keys(ADMIN_RULES).sort(), "every method has an access rule");
      for (const method of AdminService.methods) {
        const error = await connectErrorOf(client[method.localName](create(method.input, {})));
        assert.equal(error.code, Code.Unauthenticated, method.name);
      }
    });

    it("a malformed authorization header (Basic, or Bearer without a token) then UNAUTHENTICATED", async () => {
      const basic = `Basic ${Buffer.from(`${full.clientId}:${full.secret}`).toString("base64")}`;
      for (const header of [basic, "Bearer", "Bearer not a token", `Bearer ${"x".repeat(10)}`]) {
        const error = await connectErrorOf(withToken(header).getRealm({ name: realmA }));
        assert.equal(error.code, Code.Unauthenticated, header);
      }
    });

    it("a token of another realm (even a realm with an admin client id) then UNAUTHENTICATED", async () => {
      const answer = await postForm(tessera.tokenUrl(realmA), { grant_type: "client_credentials" }, { basic: ["gateway", SECRETS.gateway] });
      const error = await connectErrorOf(withToken(`Bearer ${String(answer.body.access_token)}`).getRealm({ name: realmA }));
      assert.equal(error.code, Code.Unauthenticated);
      assert.match(error.metadata.get("www-authenticate") ?? "", /error="invalid_token"/);
    });

    it("an expired token then UNAUTHENTICATED", async () => {
      const token = await full.fetchToken();
      clock.advance(310);
      try {
        const error = await connectErrorOf(withToken(`Bearer ${token}`).getRealm({ name: realmA }));
        assert.equal(error.code, Code.Unauthenticated);
        assert.match(error.rawMessage, /expired/);
      } finally {
        clock.reset();
      }
    });

    it("a revoked token then UNAUTHENTICATED", async () => {
      const token = await full.fetchToken();
      const client = withToken(`Bearer ${token}`);
      await client.getRealm({ name: realmA });
      const revoked = await postForm(`${tessera.issuer("master")}/protocol/openid-connect/revoke`, { token }, { basic: [full.clientId, full.secret] });
      assert.equal(revoked.status, 200);
      const error = await connectErrorOf(client.getRealm({ name: realmA }));
      assert.equal(error.code, Code.Unauthenticated);
      assert.match(error.rawMessage, /revoked/);
    });

    it("a token of an admin client since disabled then UNAUTHENTICATED", async () => {
      const caller = await tessera.adminCaller(["admin"]);
      const client = withToken(`Bearer ${await caller.fetchToken()}`);
      await client.getRealm({ name: realmA });
      await full.admin().updateClient({ realm: "master", client: { clientId: caller.clientId, enabled: false } });
      assert.equal((await connectErrorOf(client.getRealm({ name: realmA }))).code, Code.Unauthenticated);
    });

    it("admin:{realm} then that realm may be read and changed; another realm (existing or not) and CreateRealm are PERMISSION_DENIED", async () => {
      const admin = (await tessera.adminCaller([`admin:${realmA}`])).admin();
      assert.equal((await admin.getRealm({ name: realmA })).realm?.name, realmA);
      await admin.createScope({ realm: realmA, scope: { name: "only-a" } });
      for (const call of [
        () => admin.getRealm({ name: realmB }),
        () => admin.getRealm({ name: "no-such-realm" }),
        () => admin.createScope({ realm: realmB, scope: { name: "only-a" } }),
        () => admin.listClients({ realm: realmB }),
        () => admin.createRealm({ realm: { name: `new-${randomUUID().slice(0, 8)}` } }),
      ]) {
        const error = await connectErrorOf(call());
        assert.equal(error.code, Code.PermissionDenied, error.rawMessage);
      }
      const error = await connectErrorOf(admin.deleteRealm({ name: realmB }));
      assert.match(error.rawMessage, new RegExp(`admin:${realmB}`), "the refusal names the scope that would do");
    });

    it("admin.read:{realm} then reads of that realm pass and every change is PERMISSION_DENIED", async () => {
      const admin = (await tessera.adminCaller([`admin.read:${realmA}`])).admin("grpc");
      assert.ok((await admin.listClients({ realm: realmA })).clients.length > 0);
      assert.equal((await admin.getScope({ realm: realmA, name: "profile" })).scope?.name, "profile");
      for (const call of [
        () => admin.createScope({ realm: realmA, scope: { name: "nope" } }),
        () => admin.deleteClient({ realm: realmA, clientId: "gateway" }),
        () => admin.updateRealm({ realm: { name: realmA } }),
        () => admin.endSession({ realm: realmA, sessionId: "x" }),
        () => admin.listClients({ realm: realmB }),
      ]) {
        assert.equal((await connectErrorOf(call())).code, Code.PermissionDenied);
      }
      assert.ok(await tessera.repository.getClient(realmA, "gateway"), "nothing was deleted");
    });

    it("admin.read then every realm may be read and none changed", async () => {
      const admin = (await tessera.adminCaller(["admin.read"])).admin();
      assert.equal((await admin.getRealm({ name: realmB })).realm?.name, realmB);
      assert.equal((await connectErrorOf(admin.getRealm({ name: "no-such-realm" }))).code, Code.NotFound);
      assert.equal((await connectErrorOf(admin.deleteRealm({ name: realmB }))).code, Code.PermissionDenied);
      assert.equal((await connectErrorOf(admin.createRealm({ realm: { name: "x-new" } }))).code, Code.PermissionDenied);
    });

    it("ListRealms lists only the realms the token may read", async () => {
      const onlyA = (await tessera.adminCaller([`admin.read:${realmA}`])).admin();
      assert.deepEqual((await onlyA.listRealms({})).realms.map((r) => r.name), [realmA]);
      const names = (await full.admin().listRealms({})).realms.map((r) => r.name);
      assert.ok(names.includes(realmA) && names.includes(realmB) && names.includes("master"));
    });

    it("a master-realm token without any admin scope then PERMISSION_DENIED, ListRealms included", async () => {
      await tessera.repository.createScope("master", { name: `reports-${randomUUID().slice(0, 6)}`, audiences: [] }).catch(() => {});
      const caller = await tessera.adminCaller(["admin.reports"]);
      const admin = caller.admin();
      assert.equal((await connectErrorOf(admin.listRealms({}))).code, Code.PermissionDenied);
      assert.equal((await connectErrorOf(admin.getRealm({ name: realmA }))).code, Code.PermissionDenied);
    });

    it("admin then CreateRealm and DeleteRealm pass; the master realm cannot be deleted", async () => {
      const admin = full.admin("grpc");
      const name = `auth-new-${randomUUID().slice(0, 8)}`;
      await admin.createRealm({ realm: { name } });
      await admin.deleteRealm({ name });
      assert.equal((await connectErrorOf(admin.deleteRealm({ name: "master" }))).code, Code.FailedPrecondition);
      assert.ok(await tessera.repository.getRealm("master"));
    });
  });

  describe(`admin bootstrap (${storage})`, () => {
    let repository: RealmRepository;
    before(async () => {
      repository = await openRepository();
    });
    after(() => repository.close());

    it("an empty master realm with configured credentials then that client, and a second start keeps it", async () => {
      // Other suites may share this storage: bootstrap runs only while the master realm has no client.
      const before = await repository.listClients("master");
      const outcome = await bootstrapAdmin(repository, { clientId: "ops", secret: "a-long-enough-secret", generateSecret: false });
      if (before.length === 0) {
        assert.deepEqual(outcome, { kind: "created", clientId: "ops" });
        const client = await repository.getClient("master", "ops");
        assert.deepEqual(client?.defaultScopes, ["admin"]);
        assert.notEqual(client?.secretHash, "a-long-enough-secret");
      } else {
        assert.deepEqual(outcome, { kind: "existing" });
      }
      assert.deepEqual(await bootstrapAdmin(repository, { secret: "another-long-secret", generateSecret: true }), { kind: "existing" });
      assert.ok(await repository.getScope("master", "admin"));
      assert.ok(await repository.getScope("master", "admin.read"));
    });
  });
}
