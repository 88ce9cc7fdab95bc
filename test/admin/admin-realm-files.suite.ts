/**
 * Realm export and import through the AdminService (issue 5 item 4 of the issue text): export writes
 * the realm file format without secrets or keys; import is all or nothing, with a dry run that
 * reports what would change; import(export(realm)) equals the realm.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, type Client } from "@connectrpc/connect";
import { parse, stringify } from "yaml";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { ADMIN_SUITE_MASTER_KEY, connectErrorOf } from "./admin-auth.suite.js";

type FileObject = Record<string, unknown> & { realm: string; clients: Record<string, unknown>[]; scopes: Record<string, unknown>[]; users: Record<string, unknown>[] };

/** Realm export and import against one storage adapter. */
export function runAdminRealmFilesSuite(storage: string, openRepository: () => Promise<RealmRepository>): void {
  describe(`AdminService realm export and import (${storage})`, () => {
    let tessera: TesseraHarness;
    let admin: Client<typeof AdminService>;
    let connect: Client<typeof AdminService>;

    before(async () => {
      tessera = await startTessera({ repository: await openRepository(), masterKey: ADMIN_SUITE_MASTER_KEY });
      const caller = await tessera.adminCaller();
      admin = caller.admin("grpc");
      connect = caller.admin("connect");
    });
    after(async () => {
      await tessera.stop();
      await tessera.repository.close();
    });

    const newRealm = async (): Promise<string> => {
      const name = `files-${randomUUID().slice(0, 8)}`;
      await tessera.repository.importRealm((await buildTestRealm(name)).bundle);
      return name;
    };
    const exported = async (realm: string): Promise<FileObject> => parse((await admin.exportRealm({ realm })).realmFile) as FileObject;
    const gatewayWorks = async (realm: string) =>
      (await postForm(tessera.tokenUrl(realm), { grant_type: "client_credentials" }, { basic: ["gateway", SECRETS.gateway] })).status === 200;

    it("ExportRealm writes the realm file format: every object, ids kept, no secret, no hash, no key, no etag (YAML and JSON)", async () => {
      const realm = await newRealm();
      const yaml = (await admin.exportRealm({ realm })).realmFile;
      assert.match(yaml, /^# Realm /);
      const file = parse(yaml) as FileObject;
      assert.equal(file.realm, realm);
      assert.equal(file.clients.length, 13);
      assert.deepEqual(file.users.map((u) => u.username), ["alice", "bob", "carol"]);
      assert.ok(file.clients.every((c) => typeof c.serviceAccountUserId === "string"));
      assert.ok(file.users.every((u) => typeof u.id === "string"));
      assert.doesNotMatch(yaml, /argon2|secret:|etag|"d":|gateway-secret/);
      const json = JSON.parse((await connect.exportRealm({ realm, format: "json" })).realmFile) as FileObject;
      assert.deepEqual(json, file);
      assert.equal((await connectErrorOf(admin.exportRealm({ realm: "no-such-realm" }))).code, Code.NotFound);
      assert.equal((await connectErrorOf(admin.exportRealm({ realm, format: "xml" }))).code, Code.InvalidArgument);
    });

    it("import(export(realm)) over the realm changes nothing: the dry run and the import report no change, secrets are kept", async () => {
      const realm = await newRealm();
      const { realmFile } = await admin.exportRealm({ realm });
      const dry = await admin.importRealm({ realm, realmFile, dryRun: true });
      assert.deepEqual(dry.changes, []);
      assert.equal(dry.realmCreated, false);
      const applied = await connect.importRealm({ realm, realmFile });
      assert.deepEqual(applied.changes, []);
      assert.ok(await gatewayWorks(realm), "the client secret was kept");
      assert.deepEqual(await exported(realm), parse(realmFile));
    });

    it("a changed file: the dry run reports exactly what would change and writes nothing; the import applies it; export then equals the file", async () => {
      const realm = await newRealm();
      const file = await exported(realm);
      const before = stringify(file);
      file.accessTokenLifespan = 120;
      file.scopes.push({ name: "reports.read", audiences: [] });
      const gateway = file.clients.find((c) => c.clientId === "gateway");
      assert.ok(gateway);
      gateway.optionalScopes = [...(gateway.optionalScopes as string[]), "reports.read"];
      file.users = file.users.filter((u) => u.username !== "bob");
      const realmFile = stringify(file);
      const dry = await admin.importRealm({ realm, realmFile, dryRun: true, prune: true });
      assert.deepEqual(
        dry.changes.map((c) => [c.kind, c.key, c.action, c.fields.join(",")]),
        [
          ["realm", realm, "update", "accessTokenLifespan"],
          ["scope", "reports.read", "create", ""],
          ["client", "gateway", "update", "optionalScopes"],
          ["user", "bob", "delete", ""],
        ],
      );
      assert.equal(stringify(await exported(realm)), before, "a dry run writes nothing");
      const withoutPrune = await admin.importRealm({ realm, realmFile, dryRun: true });
      assert.ok(!withoutPrune.changes.some((c) => c.action === "delete"), "without prune nothing is deleted");
      await admin.importRealm({ realm, realmFile, prune: true });
      assert.deepEqual(await exported(realm), parse(realmFile));
      assert.ok(await gatewayWorks(realm));
      assert.equal((await admin.getClient({ realm, clientId: "gateway" })).client?.optionalScopes.includes("reports.read"), true);
    });

    it("import into a new realm: secrets the export left out must be given; then export(import(file)) equals the file, service-account ids kept", async () => {
      const source = await newRealm();
      const file = await exported(source);
      const target = `${source}-copy`;
      file.realm = target;
      const missing = await connectErrorOf(admin.importRealm({ realm: target, realmFile: stringify(file) }));
      assert.equal(missing.code, Code.InvalidArgument);
      const fields = missing.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field) ?? [];
      assert.ok(fields.includes(`realm_file.clients[${file.clients.findIndex((c) => c.clientId === "gateway")}]`), fields.join());
      assert.equal((await connectErrorOf(admin.getRealm({ name: target }))).code, Code.NotFound, "nothing was imported");
      const secrets = SECRETS as Record<string, string>;
      for (const client of file.clients) if (secrets[String(client.clientId)]) client.secret = secrets[String(client.clientId)];
      const created = await admin.importRealm({ realm: target, realmFile: stringify(file) });
      assert.equal(created.realmCreated, true);
      assert.equal(created.changes.filter((c) => c.kind === "client").length, 13);
      const copy = await exported(target);
      for (const client of file.clients) delete client.secret;
      assert.deepEqual(copy, file);
      const sourceGateway = (await admin.getClient({ realm: source, clientId: "gateway" })).client;
      assert.equal((await admin.getClient({ realm: target, clientId: "gateway" })).client?.serviceAccountUserId, sourceGateway?.serviceAccountUserId);
      assert.ok(await gatewayWorks(target));
    });

    it("a file with one broken rule is INVALID_ARGUMENT naming it, and nothing at all is written", async () => {
      const realm = await newRealm();
      const file = await exported(realm);
      const before = stringify(file);
      file.scopes.push({ name: "fresh.scope" });
      const gateway = file.clients.find((c) => c.clientId === "gateway");
      assert.ok(gateway);
      gateway.tokenExchange = { ...(gateway.tokenExchange as object), scopePolicy: "up" };
      const error = await connectErrorOf(admin.importRealm({ realm, realmFile: stringify(file) }));
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /tokenExchange\.scopePolicy/);
      assert.equal(stringify(await exported(realm)), before);
      const unknownKey = await connectErrorOf(admin.importRealm({ realm, realmFile: `realm: ${realm}\nbogus: 1\n` }));
      assert.equal(unknownKey.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field, "realm_file.bogus");
    });

    it("the request's realm must be the file's; creating a realm by import needs the admin scope", async () => {
      const realm = await newRealm();
      const { realmFile } = await admin.exportRealm({ realm });
      assert.equal((await connectErrorOf(admin.importRealm({ realm: "other", realmFile }))).code, Code.InvalidArgument);
      const name = `files-new-${randomUUID().slice(0, 6)}`;
      const scoped = (await tessera.adminCaller([`admin:${name}`])).admin();
      const error = await connectErrorOf(scoped.importRealm({ realm: name, realmFile: `realm: ${name}\n` }));
      assert.equal(error.code, Code.PermissionDenied);
    });

    it("a realm file larger than the 64 KiB of token requests is accepted (thousands of users)", async () => {
      const name = `files-big-${randomUUID().slice(0, 6)}`;
      const users = Array.from({ length: 1500 }, (_, i) => ({ username: `user-${String(i).padStart(5, "0")}`, email: `user-${i}@example.com`, attributes: { team: [`team-${i % 10}`] } }));
      const realmFile = stringify({ realm: name, users });
      assert.ok(realmFile.length > 64 * 1024);
      const { changes } = await admin.importRealm({ realm: name, realmFile });
      assert.equal(changes.length, 1501);
      const listed = await admin.listUsers({ realm: name, pageSize: 1000 });
      assert.equal(listed.users.length, 1000);
      assert.ok(listed.nextPageToken);
    });
  });
}
