/**
 * Who may do what through the AdminService: admin clients live in the {@link MASTER_REALM}, and the
 * scopes of their access tokens say which realms they administer (issue 5, "Authenticate admin
 * calls"). Wire-free: the RPC layer maps methods to an {@link AdminAccess} and refusals to codes.
 */

/** The realm that holds admin clients; its tokens authenticate AdminService calls. */
export const MASTER_REALM = "master";

/** Full access to every realm. */
export const ADMIN_SCOPE = "admin";
/** Read-only access to every realm. */
export const ADMIN_READ_SCOPE = "admin.read";

/** The scope that gives full access to one realm: `admin:{realm}`. */
export const realmAdminScope = (realm: string): string => `${ADMIN_SCOPE}:${realm}`;
/** The scope that gives read access to one realm: `admin.read:{realm}`. */
export const realmReadScope = (realm: string): string => `${ADMIN_READ_SCOPE}:${realm}`;

/** Whether a scope is one of the admin scopes (global or of one realm). */
export function isAdminScope(scope: string): boolean {
  return (
    scope === ADMIN_SCOPE ||
    scope === ADMIN_READ_SCOPE ||
    (scope.startsWith(`${ADMIN_SCOPE}:`) && scope.length > ADMIN_SCOPE.length + 1) ||
    (scope.startsWith(`${ADMIN_READ_SCOPE}:`) && scope.length > ADMIN_READ_SCOPE.length + 1)
  );
}

/** What a call needs: to read or to change a realm's objects. */
export type AdminAccessLevel = "read" | "write";

/** The caller of an admin call, once its token is verified. */
export interface AdminPrincipal {
  /** The admin client (`client_id` of the token). */
  clientId: string;
  /** `sub` of the token: the client's service-account user. */
  subject: string;
  /** `jti` of the token, for the audit trail. */
  tokenId: string;
  /** The token's scopes. */
  scopes: ReadonlySet<string>;
}

/**
 * Whether `scopes` allow `level` on `realm`: `admin` and `admin:{realm}` allow both; `admin.read`
 * and `admin.read:{realm}` allow reading. (`admin:master` can create admin clients, so it is as
 * powerful as `admin`.)
 */
export function allows(scopes: ReadonlySet<string>, level: AdminAccessLevel, realm: string): boolean {
  if (scopes.has(ADMIN_SCOPE) || scopes.has(realmAdminScope(realm))) return true;
  return level === "read" && (scopes.has(ADMIN_READ_SCOPE) || scopes.has(realmReadScope(realm)));
}

/** Whether `scopes` allow creating realms (only the global `admin` scope does). */
export function allowsRealmCreation(scopes: ReadonlySet<string>): boolean {
  return scopes.has(ADMIN_SCOPE);
}

/** Whether `scopes` hold any admin scope at all (else every admin call is refused). */
export function hasAnyAdminScope(scopes: ReadonlySet<string>): boolean {
  for (const scope of scopes) if (isAdminScope(scope)) return true;
  return false;
}
