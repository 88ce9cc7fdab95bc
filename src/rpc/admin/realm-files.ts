import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { allowsRealmCreation } from "../../admin/admin-access.js";
import { applyRealmImport, planRealmImport, readRealmBundle } from "../../admin/realm-transfer.js";
import type { MasterKeyCipher } from "../../crypto/master-key-cipher.js";
import type { Realm } from "../../domain/index.js";
import { convertKeycloakExport, KeycloakExportError } from "../../keycloak/convert-realm.js";
import { formatIssue, formatIssuePath, RealmFileError, readRealmDocument, renderRealmFile, toRealmFile, type RealmFile, type ValidationIssue } from "../../realm-file/index.js";
import type { RealmRepository } from "../../storage/realm-repository.js";
import { adminPrincipalOf, noteAdminChange } from "../admin-auth.js";
import { badRequest, invalidField } from "./errors.js";

/** The realm-file methods of the AdminService. */
export type RealmFileMethods = Pick<ServiceImpl<typeof AdminService>, "exportRealm" | "importRealm" | "importKeycloakRealm">;

/** What the realm-file methods need. */
export interface RealmFileMethodDeps {
  repository: RealmRepository;
  cipher: MasterKeyCipher;
  /** Called after an import changed a realm's settings (a new signing algorithm rotates its keys). */
  realmChanged: (before: Realm, after: Realm) => Promise<void>;
}

/** INVALID_ARGUMENT for a realm file that breaks rules: one field violation per rule, on `<field>.<path>`. */
function fileRefused(field: string, issues: readonly ValidationIssue[]): ConnectError {
  const message = `${field}: ${issues.map(formatIssue).join("; ")}`;
  return badRequest(message, issues.map((i) => ({ field: i.path.length > 0 ? `${field}.${formatIssuePath(i.path)}` : field, description: i.message })));
}

/** One realm file to import, and where its problems are reported (`realm_file.<path>`). */
interface RealmFileImport {
  realm: string;
  text: string;
  field: string;
  dryRun: boolean;
  prune: boolean;
}

/**
 * Parses, plans and (unless a dry run) applies a realm file over the stored realm: what
 * ImportRealm does, and ImportKeycloakRealm once the export is converted.
 */
async function importRealmFile(deps: RealmFileMethodDeps, context: HandlerContext, { realm, text, field, dryRun, prune }: RealmFileImport) {
  const { repository, cipher } = deps;
  let parsed;
  try {
    parsed = await readRealmDocument(text, field, { seal: (plain, binding) => cipher.seal(plain, binding) });
  } catch (error) {
    if (error instanceof RealmFileError) throw fileRefused(field, error.issues);
    throw error;
  }
  if (parsed.bundle.realm.name !== realm) {
    throw invalidField(`${field}.realm`, `expected ${JSON.stringify(realm)} (the request's realm), got ${JSON.stringify(parsed.bundle.realm.name)}`);
  }
  const plan = await planRealmImport(repository, parsed.file, parsed.bundle, { prune });
  // Creating a realm needs the global admin scope, as CreateRealm does.
  if (!plan.existing && !allowsRealmCreation(adminPrincipalOf(context).scopes)) {
    throw new ConnectError("creating realms needs the admin scope", Code.PermissionDenied);
  }
  if (plan.issues.length > 0) throw fileRefused(field, plan.issues);
  if (!dryRun) {
    noteAdminChange(context, { resource: `realms/${realm}/import`, before: plan.existing, after: plan.bundle });
    const after = await applyRealmImport(repository, plan);
    if (plan.existing) await deps.realmChanged(plan.existing.realm, after);
  }
  return {
    dryRun,
    realmCreated: !plan.existing,
    changes: plan.changes.map((c) => ({ kind: c.kind, key: c.key, action: c.action, fields: c.fields })),
  };
}

/** The converted realm file as it may be shown: client secrets masked (the caller has them in its export). */
function withSecretsMasked(file: RealmFile): RealmFile {
  return { ...file, clients: file.clients?.map((c) => (c.secret === undefined ? c : { ...c, secret: "*****" })) };
}

/** Export and import of whole realms in the realm file format. */
export function realmFileMethods(deps: RealmFileMethodDeps): RealmFileMethods {
  const { repository } = deps;
  return {
    exportRealm: async ({ realm, format }) => {
      if (format !== "" && format !== "yaml" && format !== "json") throw invalidField("format", "expected yaml or json");
      const bundle = await readRealmBundle(repository, realm);
      if (!bundle) throw new ConnectError(`realm ${realm} not found`, Code.NotFound);
      return { realmFile: renderRealmFile(toRealmFile(bundle), format === "json" ? "json" : "yaml") };
    },
    importRealm: async ({ realm, realmFile, dryRun, prune }, context) => {
      if (realm === "") throw invalidField("realm", "expected a non-empty string");
      return importRealmFile(deps, context, { realm, text: realmFile, field: "realm_file", dryRun, prune });
    },
    importKeycloakRealm: async ({ realmExport, realm, dryRun }, context) => {
      let conversion;
      try {
        conversion = convertKeycloakExport(realmExport, realm === "" ? {} : { realm });
      } catch (error) {
        if (error instanceof KeycloakExportError) throw invalidField("realm_export", error.message);
        throw error;
      }
      const name = conversion.file.realm;
      const text = renderRealmFile(conversion.file, "yaml");
      const answer = await importRealmFile(deps, context, { realm: name, text, field: "realm_export", dryRun, prune: false });
      return { ...answer, realm: name, notes: conversion.notes, realmFile: renderRealmFile(withSecretsMasked(conversion.file), "yaml") };
    },
  };
}
