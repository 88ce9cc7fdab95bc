import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/tessera/admin/v1/admin_service_pb.js";
import { RealmSchema, type Realm as RealmMessage } from "../../../gen/tessera/admin/v1/realm_pb.js";
import { allows, MASTER_REALM } from "../../admin/admin-access.js";
import { newEtag } from "../../admin/revisions.js";
import { REALM_DEFAULTS, type Realm, type SigningAlgorithm } from "../../domain/index.js";
import type { Logger } from "../../ops/logger.js";
import { validateRealm } from "../../realm-file/index.js";
import { pageByKey } from "../../storage/paging.js";
import { adminPrincipalOf, noteAdminChange } from "../admin-auth.js";
import { mergeUpdate } from "../field-mask.js";
import { realmToMessage } from "./convert.js";
import { invalidArgument, notFound, requiredField } from "./errors.js";
import { pageRequest, type AdminHandlerDeps } from "./handler-deps.js";
import { updateVersioned } from "./updates.js";

/** The realm methods of the AdminService. */
export type RealmMethods = Pick<
  ServiceImpl<typeof AdminService>,
  "createRealm" | "getRealm" | "listRealms" | "updateRealm" | "deleteRealm"
>;

/** What the realm methods need. */
export interface RealmMethodDeps extends AdminHandlerDeps {
  log: Logger;
  /** Called after an update changed a realm's settings (a new signing algorithm rotates its keys). */
  realmChanged: (before: Realm, after: Realm) => Promise<void>;
}

/** Fields of the realm message that a request cannot set. */
const OUTPUT_ONLY = ["etag"];

/** The realm a request message describes, defaults filled in; INVALID_ARGUMENT if it breaks a rule of realm files. */
function realmFrom(message: RealmMessage | undefined): Realm {
  const realm: Realm = {
    name: requiredField(message?.name ?? "", "realm.name"),
    enabled: message?.enabled ?? REALM_DEFAULTS.enabled,
    accessTokenLifespan: Number(message?.accessTokenLifespan || REALM_DEFAULTS.accessTokenLifespan),
    refreshTokenLifespan: Number(message?.refreshTokenLifespan || REALM_DEFAULTS.refreshTokenLifespan),
    signingAlgorithm: (message?.signingAlgorithm || REALM_DEFAULTS.signingAlgorithm) as SigningAlgorithm,
    sessionIdleTimeout: Number(message?.sessionIdleTimeout || REALM_DEFAULTS.sessionIdleTimeout),
    sessionMaxLifespan: Number(message?.sessionMaxLifespan || REALM_DEFAULTS.sessionMaxLifespan),
    maxDelegationDepth: message?.maxDelegationDepth || REALM_DEFAULTS.maxDelegationDepth,
  };
  const issues = validateRealm(realm);
  if (issues.length > 0) throw invalidArgument("realm", issues);
  return realm;
}

/** CRUD of realms; listings show only the realms the caller may read. */
export function realmMethods(deps: RealmMethodDeps): RealmMethods {
  const { repository: r, clock, log, realmChanged, requireRealm } = deps;
  return {
    createRealm: async ({ realm }, context) => {
      const created = { ...realmFrom(realm), etag: newEtag() };
      noteAdminChange(context, { resource: `realms/${created.name}`, after: created });
      await r.createRealm(created);
      log.info({ realm: created.name }, "realm created");
      return { realm: realmToMessage(created) };
    },
    getRealm: async ({ name }) => ({ realm: realmToMessage(await requireRealm(name)) }),
    listRealms: async (request, context) => {
      const { scopes } = adminPrincipalOf(context);
      const { namePrefix } = request;
      const page = pageByKey(await r.listRealms(), pageRequest(request), ["realms", namePrefix], (realm) => realm.name, (realm) =>
        realm.name.startsWith(namePrefix) && allows(scopes, "read", realm.name),
      );
      return { realms: page.items.map(realmToMessage), nextPageToken: page.nextPageToken ?? "" };
    },
    updateRealm: async ({ realm, updateMask }, context) => {
      const name = requiredField(realm?.name ?? "", "realm.name");
      const { before, after } = await updateVersioned(r, clock, {
        realm: name,
        kind: "realm",
        key: name,
        etag: realm?.etag ?? "",
        read: () => r.getRealm(name),
        apply: async (existing) => realmFrom(mergeUpdate(RealmSchema, realmToMessage(existing), realm ?? create(RealmSchema), updateMask, OUTPUT_ONLY)),
        write: (next) => r.updateRealm(next),
        notFound: () => notFound(`realm ${name}`),
      });
      noteAdminChange(context, { resource: `realms/${name}`, before, after });
      await realmChanged(before, after);
      return { realm: realmToMessage(after) };
    },
    deleteRealm: async ({ name }, context) => {
      // The master realm holds the admin clients: deleting it would lock every administrator out.
      if (name === MASTER_REALM) throw new ConnectError("the master realm cannot be deleted", Code.FailedPrecondition);
      noteAdminChange(context, { resource: `realms/${name}`, before: await r.getRealm(name) });
      if (!(await r.deleteRealm(name))) throw notFound(`realm ${name}`);
      log.info({ realm: name }, "realm deleted");
      return {};
    },
  };
}
