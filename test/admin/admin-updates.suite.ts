/**
 * AdminService updates (issue 5 item 3): field masks (a partial update never wipes other fields),
 * optimistic concurrency with etags (a stale or concurrent update is ABORTED), and validation
 * errors as INVALID_ARGUMENT with google.rpc.BadRequest field violations.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, type Client } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { ADMIN_SUITE_MASTER_KEY, connectErrorOf } from "./admin-auth.suite.js";

/** The AdminService update rules against one storage adapter. */
export function runAdminUpdatesSuite(storage: string, openRepository: () => Promise<RealmRepository>): void {
  describe(`AdminService updates: field masks, etags, field violations (${storage})`, () => {
    let tessera: TesseraHarness;
    let realm: string;
    let connect: Client<typeof AdminService>;
    let grpc: Client<typeof AdminService>;

    before(async () => {
      tessera = await startTessera({ repository: await openRepository(), masterKey: ADMIN_SUITE_MASTER_KEY });
      realm = `upd-${randomUUID().slice(0, 8)}`;
      await tessera.repository.importRealm((await buildTestRealm(realm)).bundle);
      const caller = await tessera.adminCaller();
      connect = caller.admin("connect");
      grpc = caller.admin("grpc");
    });
    after(async () => {
      await tessera.stop();
      await tessera.repository.close();
    });

    describe("field masks", () => {
      it("UpdateClient with update_mask token_exchange.scope_policy changes that field only; secret, scopes and the rest are kept (gRPC)", async () => {
        const before = (await grpc.getClient({ realm, clientId: "gateway" })).client;
        assert.ok(before);
        const { client } = await grpc.updateClient({
          realm,
          client: { clientId: "gateway", tokenExchange: { scopePolicy: "requester" } },
          updateMask: { paths: ["token_exchange.scope_policy"] },
        });
        assert.equal(client?.tokenExchange?.scopePolicy, "requester");
        assert.deepEqual({ ...client, tokenExchange: undefined, etag: "" }, { ...before, tokenExchange: undefined, etag: "" });
        assert.deepEqual({ ...client?.tokenExchange, scopePolicy: "downscope" }, { ...before.tokenExchange });
        assert.notEqual(client?.etag, before.etag, "a write changes the etag");
        const token = await postForm(tessera.tokenUrl(realm), { grant_type: "client_credentials" }, { basic: ["gateway", SECRETS.gateway] });
        assert.equal(token.status, 200, "the secret is kept");
      });

      it("without update_mask only the fields the request sets change (AIP-134); unset ones are kept", async () => {
        const { scope } = await connect.updateScope({ realm, scope: { name: "orders.read", description: "read orders" } });
        assert.equal(scope?.description, "read orders");
        assert.deepEqual(scope?.audiences, ["orders-api"], "audiences were not in the request: kept");
        const { realm: updated } = await connect.updateRealm({ realm: { name: realm, accessTokenLifespan: 120n } });
        assert.equal(updated?.accessTokenLifespan, 120n);
        assert.equal(updated?.refreshTokenLifespan, 1800n);
        assert.equal(updated?.sessionIdleTimeout, 600n, "kept, not reset to the default");
        assert.equal(updated?.maxDelegationDepth, 5);
      });

      it("a mask naming a field the request leaves empty clears it; * replaces the whole resource", async () => {
        const { scope } = await grpc.updateScope({ realm, scope: { name: "orders.read" }, updateMask: { paths: ["description"] } });
        assert.equal(scope?.description, "");
        assert.deepEqual(scope?.audiences, ["orders-api"]);
        const replaced = await grpc.updateScope({ realm, scope: { name: "orders.read", description: "all new" }, updateMask: { paths: ["*"] } });
        assert.deepEqual(replaced.scope?.audiences, []);
        assert.equal(replaced.scope?.description, "all new");
        await grpc.updateScope({ realm, scope: { name: "orders.read", audiences: ["orders-api"] }, updateMask: { paths: ["audiences"] } });
      });

      it("an unknown or output-only mask path is INVALID_ARGUMENT with a field violation on update_mask, and nothing changes", async () => {
        for (const path of ["no_such_field", "token_exchange.nope", "has_secret", "service_account_user_id", "default_scopes.x"]) {
          const error = await connectErrorOf(connect.updateClient({ realm, client: { clientId: "gateway", enabled: false }, updateMask: { paths: ["enabled", path] } }));
          assert.equal(error.code, Code.InvalidArgument, path);
          assert.equal(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field, "update_mask", path);
        }
        assert.equal((await connect.getClient({ realm, clientId: "gateway" })).client?.enabled, true);
      });

      it("UpdateUser with a mask on attributes keeps username and email", async () => {
        const { user } = await grpc.getUser({ realm, username: "bob" });
        assert.ok(user);
        const updated = await grpc.updateUser({ realm, user: { id: user.id, attributes: { team: { values: ["blue"] } } }, updateMask: { paths: ["attributes"] } });
        assert.equal(updated.user?.username, "bob");
        assert.deepEqual(Object.keys(updated.user?.attributes ?? {}), ["team"]);
      });
    });

    describe("etags", () => {
      it("an update naming the current etag passes and returns a new one; naming the old one again is ABORTED and changes nothing", async () => {
        const { client } = await connect.getClient({ realm, clientId: "orders-api" });
        assert.ok(client?.etag);
        const first = await connect.updateClient({ realm, client: { clientId: "orders-api", etag: client.etag, resourceUris: ["https://orders.example.com", "https://orders2.example.com"] }, updateMask: { paths: ["resource_uris"] } });
        assert.notEqual(first.client?.etag, client.etag);
        const stale = await connectErrorOf(connect.updateClient({ realm, client: { clientId: "orders-api", etag: client.etag, resourceUris: [] }, updateMask: { paths: ["resource_uris"] } }));
        assert.equal(stale.code, Code.Aborted);
        assert.deepEqual((await connect.getClient({ realm, clientId: "orders-api" })).client?.resourceUris, ["https://orders.example.com", "https://orders2.example.com"]);
      });

      it("concurrent updates naming the same etag: exactly one wins, the others are ABORTED (gRPC and Connect at once)", async () => {
        const { scope } = await grpc.getScope({ realm, name: "profile" });
        assert.ok(scope?.etag);
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            (i % 2 ? grpc : connect).updateScope({ realm, scope: { name: "profile", etag: scope.etag, description: `writer ${i}` }, updateMask: { paths: ["description"] } }),
          ),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        assert.equal(won.length, 1);
        for (const lost of results.filter((r) => r.status === "rejected")) {
          assert.equal((lost.reason as { code?: Code }).code, Code.Aborted);
        }
        const winner = (won[0] as PromiseFulfilledResult<{ scope?: { description: string; etag: string } }>).value.scope;
        const stored = (await grpc.getScope({ realm, name: "profile" })).scope;
        assert.equal(stored?.description, winner?.description);
        assert.equal(stored?.etag, winner?.etag);
      });

      it("etags of realms, identity providers and users work alike", async () => {
        const { realm: current } = await grpc.getRealm({ name: realm });
        assert.ok(current?.etag);
        await grpc.updateRealm({ realm: { name: realm, etag: current.etag, maxDelegationDepth: 4 } });
        assert.equal((await connectErrorOf(grpc.updateRealm({ realm: { name: realm, etag: current.etag, maxDelegationDepth: 3 } }))).code, Code.Aborted);
        const { user } = await grpc.getUser({ realm, username: "alice" });
        assert.ok(user?.etag);
        await grpc.updateUser({ realm, user: { id: user.id, etag: user.etag, email: "alice@new.example.com" } });
        assert.equal((await connectErrorOf(grpc.updateUser({ realm, user: { id: user.id, etag: user.etag, email: "x@example.com" } }))).code, Code.Aborted);
      });
    });

    describe("field violations", () => {
      it("CreateClient breaking rules is INVALID_ARGUMENT with one google.rpc.BadRequest field violation per rule, naming request fields", async () => {
        const error = await connectErrorOf(
          grpc.createClient({ realm, client: { clientId: "bad", secret: "s", defaultScopes: ["nope"], tokenExchange: { enabled: true, scopePolicy: "up" } } }),
        );
        assert.equal(error.code, Code.InvalidArgument);
        const fields = error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field) ?? [];
        assert.ok(fields.includes("client.token_exchange.scope_policy"), fields.join());
        assert.ok(fields.includes("client.default_scopes[0]"), fields.join());
        for (const violation of error.findDetails(BadRequestSchema)[0]?.fieldViolations ?? []) assert.ok(violation.description.length > 0);
      });

      it("UpdateRealm with a zero-length lifespan mask and a bad value, and CreateUser without a username, name their fields", async () => {
        const error = await connectErrorOf(connect.updateRealm({ realm: { name: realm, accessTokenLifespan: -5n } }));
        assert.equal(error.code, Code.InvalidArgument);
        assert.deepEqual(error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["realm.access_token_lifespan"]);
        const user = await connectErrorOf(connect.createUser({ realm, user: { username: "" } }));
        assert.deepEqual(user.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["user.username"]);
      });
    });
  });
}

/** Audit events of admin changes against one storage adapter. */
export function runAdminAuditSuite(storage: string, openRepository: () => Promise<RealmRepository>): void {
  describe(`AdminService audit events (${storage})`, () => {
    let tessera: TesseraHarness;
    let realm: string;

    before(async () => {
      tessera = await startTessera({ repository: await openRepository(), masterKey: ADMIN_SUITE_MASTER_KEY });
      realm = `audit-${randomUUID().slice(0, 8)}`;
      await tessera.repository.importRealm((await buildTestRealm(realm)).bundle);
    });
    after(async () => {
      await tessera.stop();
      await tessera.repository.close();
    });

    it("every admin change is an event: who (client, subject, token id), what (operation, resource), before/after digests; listable by kind admin", async () => {
      const caller = await tessera.adminCaller();
      const admin = caller.admin("grpc");
      const created = await admin.createScope({ realm, scope: { name: "audited" } });
      await admin.updateScope({ realm, scope: { name: "audited", description: "changed" } });
      await admin.deleteScope({ realm, name: "audited" });
      await admin.rotateClientSecret({ realm, clientId: "gateway" });
      await admin.getScope({ realm, name: "profile" });
      const { events } = await admin.listEvents({ realm, kind: "admin" });
      assert.deepEqual(events.map((e) => [e.operation, e.resource, e.result]), [
        ["RotateClientSecret", "clients/gateway/secret", "success"],
        ["DeleteScope", "scopes/audited", "success"],
        ["UpdateScope", "scopes/audited", "success"],
        ["CreateScope", "scopes/audited", "success"],
      ], "reads are not audited; newest first");
      const [rotate, del, update, create] = events;
      assert.ok(events.every((e) => e.clientId === caller.clientId && e.subject !== "" && e.jtis.length === 1));
      assert.equal(create.beforeDigest, "");
      assert.match(create.afterDigest, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(update.beforeDigest, create.afterDigest, "the update starts from what the create made");
      assert.notEqual(update.afterDigest, update.beforeDigest);
      assert.equal(del.beforeDigest, update.afterDigest);
      assert.equal(del.afterDigest, "");
      assert.notEqual(rotate.beforeDigest, rotate.afterDigest, "a new secret hash changes the digest");
      assert.equal(created.scope?.name, "audited");
      assert.doesNotMatch(JSON.stringify(events.map((e) => [e.beforeDigest, e.afterDigest, e.resource])), /argon2/);
    });

    it("a refused change is a failure event with its code; realm creation and deletion are events of the master realm", async () => {
      const narrow = await tessera.adminCaller([`admin.read:${realm}`]);
      await connectErrorOf(narrow.admin().deleteClient({ realm, clientId: "gateway" }));
      const full = (await tessera.adminCaller()).admin();
      await connectErrorOf(full.createScope({ realm, scope: { name: "profile" } }));
      const failures = (await full.listEvents({ realm, kind: "admin", result: "failure" })).events;
      assert.deepEqual(failures.map((e) => [e.operation, e.error]), [
        ["CreateScope", "already_exists"],
        ["DeleteClient", "permission_denied"],
      ]);
      assert.equal(failures[1].clientId, narrow.clientId);
      const name = `audit-new-${randomUUID().slice(0, 6)}`;
      await full.createRealm({ realm: { name } });
      await full.deleteRealm({ name });
      const master = (await full.listEvents({ realm: "master", kind: "admin" })).events.filter((e) => e.resource === `realms/${name}`);
      assert.deepEqual(master.map((e) => e.operation), ["DeleteRealm", "CreateRealm"]);
      assert.equal(master[0].beforeDigest, master[1].afterDigest);
    });
  });
}
