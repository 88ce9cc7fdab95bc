import { Code, ConnectError, createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import {
  allows,
  allowsRealmCreation,
  hasAnyAdminScope,
  realmAdminScope,
  realmReadScope,
  ADMIN_READ_SCOPE,
  ADMIN_SCOPE,
  type AdminAccessLevel,
  type AdminPrincipal,
} from "../admin/admin-access.js";
import { AdminAuthenticationError, type AdminTokenAuthenticator } from "../admin/admin-authenticator.js";
import { MASTER_REALM } from "../admin/admin-access.js";
import { digestOf } from "../admin/revisions.js";
import type { AuditLog } from "../exchange/audit-log.js";
import { OAuthError } from "../exchange/errors.js";
import { keycloakRealmName } from "../keycloak/convert-realm.js";
import { connectErrorOf } from "./errors.js";
import { SOURCE_ADDRESS } from "./token-exchange-service.js";

/** The verified caller of the current AdminService call, set before the method runs. */
export const ADMIN_PRINCIPAL = createContextKey<AdminPrincipal | undefined>(undefined, { description: "admin caller" });

/** What an admin write changed: the object before and after (absent when created or deleted). */
export interface AdminChange {
  /** `clients/gateway`, `realms/demo`, `keys/{kid}`... */
  resource: string;
  before?: unknown;
  after?: unknown;
}

/** The change the current AdminService call made, noted by the method for the audit trail. */
const ADMIN_CHANGE = createContextKey<AdminChange | undefined>(undefined, { description: "admin change" });

/** Notes what an admin write changed; {@link authorizeAdminService} audits it with digests of before and after. */
export function noteAdminChange(context: HandlerContext, change: AdminChange): void {
  context.values.set(ADMIN_CHANGE, change);
}

/** Methods whose audit event goes to the master realm: the realm they name may not exist before or after. */
const REALM_LIFECYCLE = new Set(["createRealm", "deleteRealm"]);

/** The digest of an object as audited: its content without its version. */
function auditDigest(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const content = typeof value === "object" && value !== null && !Array.isArray(value) ? { ...value, etag: undefined } : value;
  return digestOf(content);
}

/** The caller of an AdminService call (set by {@link authorizeAdminService}); throws if unset. */
export function adminPrincipalOf(context: HandlerContext): AdminPrincipal {
  const principal = context.values.get(ADMIN_PRINCIPAL);
  if (!principal) throw new ConnectError("admin caller unknown", Code.Internal);
  return principal;
}

/** What one AdminService call needs. */
export type AdminRule =
  | { level: AdminAccessLevel; realm: string }
  /** CreateRealm: the global `admin` scope. */
  | { createRealm: true }
  /** ListRealms: any admin scope; the listing is filtered to readable realms. */
  | { anyAdminScope: true };

type AdminImpl = ServiceImpl<typeof AdminService>;
type AdminMethod = keyof AdminImpl;
type RequestOf<M extends AdminMethod> = Parameters<AdminImpl[M]>[0];

const read = (realm: string): AdminRule => ({ level: "read", realm });
const write = (realm: string): AdminRule => ({ level: "write", realm });

/**
 * The one table of what each AdminService method needs. Every method must be listed (the type
 * says so), so a new RPC cannot be served without a rule.
 */
export const ADMIN_RULES: { [M in AdminMethod]: (request: RequestOf<M>) => AdminRule } = {
  createRealm: () => ({ createRealm: true }),
  getRealm: (r) => read(r.name),
  listRealms: () => ({ anyAdminScope: true }),
  updateRealm: (r) => write(r.realm?.name ?? ""),
  deleteRealm: (r) => write(r.name),
  exportRealm: (r) => read(r.realm),
  importRealm: (r) => write(r.realm),
  importKeycloakRealm: (r) => write(r.realm || keycloakRealmName(r.realmExport)),
  createClient: (r) => write(r.realm),
  getClient: (r) => read(r.realm),
  listClients: (r) => read(r.realm),
  updateClient: (r) => write(r.realm),
  deleteClient: (r) => write(r.realm),
  rotateClientSecret: (r) => write(r.realm),
  createScope: (r) => write(r.realm),
  getScope: (r) => read(r.realm),
  listScopes: (r) => read(r.realm),
  updateScope: (r) => write(r.realm),
  deleteScope: (r) => write(r.realm),
  createIdentityProvider: (r) => write(r.realm),
  getIdentityProvider: (r) => read(r.realm),
  listIdentityProviders: (r) => read(r.realm),
  updateIdentityProvider: (r) => write(r.realm),
  deleteIdentityProvider: (r) => write(r.realm),
  createUser: (r) => write(r.realm),
  getUser: (r) => read(r.realm),
  listUsers: (r) => read(r.realm),
  updateUser: (r) => write(r.realm),
  deleteUser: (r) => write(r.realm),
  listUserLinks: (r) => read(r.realm),
  listSigningKeys: (r) => read(r.realm),
  rotateSigningKey: (r) => write(r.realm),
  importSigningKey: (r) => write(r.realm),
  listSessions: (r) => read(r.realm),
  endSession: (r) => write(r.realm),
  listEvents: (r) => read(r.realm),
};

/** Refuses a call whose token does not allow `rule`: PERMISSION_DENIED naming the scopes that would. */
function authorize(principal: AdminPrincipal, rule: AdminRule): void {
  if ("createRealm" in rule) {
    if (!allowsRealmCreation(principal.scopes)) throw denied(`creating realms needs the ${ADMIN_SCOPE} scope`);
  } else if ("anyAdminScope" in rule) {
    if (!hasAnyAdminScope(principal.scopes)) throw denied("the token carries no admin scope");
  } else if (!allows(principal.scopes, rule.level, rule.realm)) {
    const needs =
      rule.level === "write"
        ? `${ADMIN_SCOPE} or ${realmAdminScope(rule.realm)}`
        : `${ADMIN_SCOPE}, ${realmAdminScope(rule.realm)}, ${ADMIN_READ_SCOPE} or ${realmReadScope(rule.realm)}`;
    throw denied(`${rule.level === "write" ? "changing" : "reading"} realm ${JSON.stringify(rule.realm)} needs ${needs}`);
  }
}

function denied(message: string): ConnectError {
  return new ConnectError(message, Code.PermissionDenied);
}

/**
 * RFC 6750 §3: an unauthenticated call is UNAUTHENTICATED with a `www-authenticate: Bearer`
 * challenge; `error="invalid_token"` when a token was presented but refused.
 */
function unauthenticated(reason: string, presented: boolean): ConnectError {
  const challenge = presented ? `Bearer realm="tessera", error="invalid_token", error_description="${reason}"` : 'Bearer realm="tessera"';
  return new ConnectError(reason, Code.Unauthenticated, new Headers({ "www-authenticate": challenge }));
}

/**
 * Wraps the AdminService implementation so that each call first authenticates its bearer token
 * (see {@link AdminTokenAuthenticator}) and is authorized by {@link ADMIN_RULES}; the method then
 * finds its caller with {@link adminPrincipalOf}. Authentication is checked before anything about
 * the named objects is looked up, so a refusal tells nothing about what exists.
 */
export function authorizeAdminService(impl: AdminImpl, authenticator: AdminTokenAuthenticator, audit?: AuditLog): AdminImpl {
  const wrapped: Record<string, unknown> = {};
  const rules = ADMIN_RULES as Record<string, (request: unknown) => AdminRule>;
  for (const [name, method] of Object.entries(impl) as [string, (req: unknown, ctx: HandlerContext) => Promise<unknown>][]) {
    const rule = rules[name];
    wrapped[name] = async (req: unknown, ctx: HandlerContext) => {
      const authorization = ctx.requestHeader.get("authorization");
      const presented = authorization !== null && authorization !== "";
      const sourceAddress = ctx.values.get(SOURCE_ADDRESS);
      const operation = name.charAt(0).toUpperCase() + name.slice(1);
      let principal: AdminPrincipal;
      try {
        principal = await authenticator.authenticate(authorization, sourceAddress);
      } catch (error) {
        const refused = error instanceof AdminAuthenticationError ? unauthenticated(error.reason, presented) : error instanceof OAuthError ? connectErrorOf(error) : undefined;
        if (!refused) throw error;
        // A refused token (or a throttled call) is a failed attempt on the audit trail; a call without credentials is not.
        if (presented || error instanceof OAuthError) {
          audit?.record(MASTER_REALM, "admin", "failure", { jtis: [], operation, ...(sourceAddress && { sourceAddress }) }, error instanceof OAuthError ? error.code : "unauthenticated");
        }
        throw refused;
      }
      // Fail closed: a method without a rule is never served.
      if (rule === undefined) throw new ConnectError(`no access rule for ${name}`, Code.Internal);
      const needs = rule(req);
      const changes = !("level" in needs) ? !("anyAdminScope" in needs) : needs.level === "write";
      // Every admin change (or attempt) is audited: who, what, digests of before and after.
      const record = (result: "success" | "failure", error?: string) => {
        if (!audit || !changes) return;
        const change = ctx.values.get(ADMIN_CHANGE);
        // A success that changed nothing (a dry run) is no change to audit; every failure is audited.
        if (result === "success" && !change) return;
        const realm = REALM_LIFECYCLE.has(name) || !("realm" in needs) ? MASTER_REALM : needs.realm;
        const beforeDigest = auditDigest(change?.before);
        const afterDigest = auditDigest(change?.after);
        audit.record(realm, "admin", result, {
          clientId: principal.clientId,
          subject: principal.subject,
          jtis: [principal.tokenId],
          operation,
          ...(sourceAddress && { sourceAddress }),
          ...(change && { resource: change.resource }),
          ...(beforeDigest && { beforeDigest }),
          ...(afterDigest && { afterDigest }),
        }, error);
      };
      try {
        authorize(principal, needs);
        ctx.values.set(ADMIN_PRINCIPAL, principal);
        const result = await method(req, ctx);
        record("success");
        return result;
      } catch (error) {
        record("failure", error instanceof ConnectError ? Code[error.code].replace(/[A-Z]/g, (c, i: number) => `${i > 0 ? "_" : ""}${c.toLowerCase()}`) : "internal");
        throw error;
      }
    };
  }
  return wrapped as AdminImpl;
}
