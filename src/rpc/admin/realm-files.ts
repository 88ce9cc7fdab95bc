import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { allowsRealmCreation } from "../../admin/admin-access.js";
import { applyRealmImport, planRealmImport, readRealmBundle } from "../../admin/realm-transfer.js";
import type { MasterKeyCipher } from "../../crypto/master-key-cipher.js";
import type { Realm } from "../../domain/index.js";
import { formatIssue, formatIssuePath, RealmFileError, readRealmDocument, renderRealmFile, toRealmFile, type ValidationIssue } from "../../realm-file/index.js";
import type { RealmRepository } from "../../storage/realm-repository.js";
import { adminPrincipalOf, noteAdminChange } from "../admin-auth.js";
import { badRequest, invalidField } from "./errors.js";

/** The realm-file methods of the AdminService. */
export type RealmFileMethods = Pick<ServiceImpl<typeof AdminService>, "exportRealm" | "importRealm">;

/** What the realm-file methods need. */
export interface RealmFileMethodDeps {
  repository: RealmRepository;
  cipher: MasterKeyCipher;
  /** Called after an import changed a realm's settings (a new signing algorithm rotates its keys). */
  realmChanged: (before: Realm, after: Realm) => Promise<void>;
}

/** INVALID_ARGUMENT for a realm file that breaks rules: one field violation per rule, on `realm_file.<path>`. */
function fileRefused(issues: readonly ValidationIssue[]): ConnectError {
  const message = `realm_file: ${issues.map(formatIssue).join("; ")}`;
  return badRequest(message, issues.map((i) => ({ field: i.path.length > 0 ? `realm_file.${formatIssuePath(i.path)}` : "realm_file", description: i.message })));
}

/** Export and import of whole realms in the realm file format. */
export function realmFileMethods(deps: RealmFileMethodDeps): RealmFileMethods {
  const { repository, cipher } = deps;
  return {
    exportRealm: async ({ realm, format }) => {
      if (format !== "" && format !== "yaml" && format !== "json") throw invalidField("format", "expected yaml or json");
      const bundle = await readRealmBundle(repository, realm);
      if (!bundle) throw new ConnectError(`realm ${realm} not found`, Code.NotFound);
      return { realmFile: renderRealmFile(toRealmFile(bundle), format === "json" ? "json" : "yaml") };
    },
    importRealm: async ({ realm, realmFile, dryRun, prune }, context) => {
      if (realm === "") throw invalidField("realm", "expected a non-empty string");
      let parsed;
      try {
        parsed = await readRealmDocument(realmFile, "realm_file", { seal: (text, binding) => cipher.seal(text, binding) });
      } catch (error) {
        if (error instanceof RealmFileError) throw fileRefused(error.issues);
        throw error;
      }
      if (parsed.bundle.realm.name !== realm) {
        throw invalidField("realm_file.realm", `expected ${JSON.stringify(realm)} (the request's realm), got ${JSON.stringify(parsed.bundle.realm.name)}`);
      }
      const plan = await planRealmImport(repository, parsed.file, parsed.bundle, { prune });
      // Creating a realm needs the global admin scope, as CreateRealm does.
      if (!plan.existing && !allowsRealmCreation(adminPrincipalOf(context).scopes)) {
        throw new ConnectError("creating realms needs the admin scope", Code.PermissionDenied);
      }
      if (plan.issues.length > 0) throw fileRefused(plan.issues);
      if (!dryRun) noteAdminChange(context, { resource: `realms/${realm}/import`, before: plan.existing, after: plan.bundle });
      if (!dryRun) {
        const after = await applyRealmImport(repository, plan);
        if (plan.existing) await deps.realmChanged(plan.existing.realm, after);
      }
      return {
        dryRun,
        realmCreated: !plan.existing,
        changes: plan.changes.map((c) => ({ kind: c.kind, key: c.key, action: c.action, fields: c.fields })),
      };
    },
  };
}
