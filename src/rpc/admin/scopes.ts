import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { ScopeSchema, type Scope as ScopeMessage } from "../../../gen/tessera/admin/v1/scope_pb.js";
import { newEtag } from "../../admin/revisions.js";
import type { Scope } from "../../domain/index.js";
import { validateScope } from "../../realm-file/index.js";
import { pageByKey } from "../../storage/paging.js";
import type { RealmRepository } from "../../storage/realm-repository.js";
import { noteAdminChange } from "../admin-auth.js";
import { mergeUpdate } from "../field-mask.js";
import { scopeToMessage } from "./convert.js";
import { invalidArgument, notFound, requiredField } from "./errors.js";
import { pageRequest, type AdminHandlerDeps } from "./handler-deps.js";
import { updateVersioned } from "./updates.js";

/** The scope methods of the AdminService. */
export type ScopeMethods = Pick<ServiceImpl<typeof AdminService>, "createScope" | "getScope" | "listScopes" | "updateScope" | "deleteScope">;

/** Fields of the scope message that a request cannot set. */
const OUTPUT_ONLY = ["etag"];

/** The scope a request message describes; INVALID_ARGUMENT if it breaks a rule of realm files (audiences are client ids). */
async function scopeFrom(repository: RealmRepository, realm: string, message: ScopeMessage | undefined): Promise<Scope> {
  const scope: Scope = {
    name: requiredField(message?.name ?? "", "scope.name"),
    audiences: message?.audiences ?? [],
    ...(message?.description && { description: message.description }),
  };
  const clientIds = new Set((await repository.listClients(realm)).map((c) => c.clientId));
  const issues = validateScope(scope, { clientIds });
  if (issues.length > 0) throw invalidArgument("scope", issues);
  return scope;
}

/** CRUD of a realm's scopes. */
export function scopeMethods(deps: AdminHandlerDeps): ScopeMethods {
  const { repository: r, clock, requireRealm } = deps;
  return {
    createScope: async ({ realm, scope }, context) => {
      await requireRealm(realm);
      const created = { ...(await scopeFrom(r, realm, scope)), etag: newEtag() };
      noteAdminChange(context, { resource: `scopes/${created.name}`, after: created });
      await r.createScope(realm, created);
      return { scope: scopeToMessage(created) };
    },
    getScope: async ({ realm, name }) => {
      const scope = await r.getScope(realm, name);
      if (!scope) throw notFound(`scope ${name}`);
      return { scope: scopeToMessage(scope) };
    },
    listScopes: async (request) => {
      const { realm, namePrefix } = request;
      await requireRealm(realm);
      const page = pageByKey(await r.listScopes(realm), pageRequest(request), ["scopes", realm, namePrefix], (s) => s.name, (s) =>
        s.name.startsWith(namePrefix),
      );
      return { scopes: page.items.map(scopeToMessage), nextPageToken: page.nextPageToken ?? "" };
    },
    updateScope: async ({ realm, scope, updateMask }, context) => {
      const name = requiredField(scope?.name ?? "", "scope.name");
      const { before, after } = await updateVersioned(r, clock, {
        realm,
        kind: "scope",
        key: name,
        etag: scope?.etag ?? "",
        read: () => r.getScope(realm, name),
        apply: (existing) => scopeFrom(r, realm, mergeUpdate(ScopeSchema, scopeToMessage(existing), scope ?? create(ScopeSchema), updateMask, OUTPUT_ONLY)),
        write: (next) => r.updateScope(realm, next),
        notFound: () => notFound(`scope ${name}`),
      });
      noteAdminChange(context, { resource: `scopes/${name}`, before, after });
      return { scope: scopeToMessage(after) };
    },
    deleteScope: async ({ realm, name }, context) => {
      noteAdminChange(context, { resource: `scopes/${name}`, before: await r.getScope(realm, name) });
      if (!(await r.deleteScope(realm, name))) throw notFound(`scope ${name}`);
      return {};
    },
  };
}
