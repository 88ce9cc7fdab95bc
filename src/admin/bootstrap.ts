import { randomBytes, randomUUID } from "node:crypto";
import { hashClientSecret } from "../crypto/client-secrets.js";
import { REALM_DEFAULTS, TOKEN_EXCHANGE_DEFAULTS, type Client } from "../domain/index.js";
import { StorageConflictError, type RealmRepository } from "../storage/realm-repository.js";
import { ADMIN_READ_SCOPE, ADMIN_SCOPE, MASTER_REALM } from "./admin-access.js";

/** The client id of a generated bootstrap admin client when none is configured. */
export const DEFAULT_BOOTSTRAP_CLIENT_ID = "admin";

/** How the first admin client is made. */
export interface BootstrapAdminOptions {
  /** TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID. */
  clientId?: string;
  /** TESSERA_BOOTSTRAP_ADMIN_SECRET. */
  secret?: string;
  /** Without a configured secret: generate one (memory storage) instead of creating no client. */
  generateSecret: boolean;
}

/** What {@link bootstrapAdmin} did. */
export type BootstrapOutcome =
  /** The master realm already had clients: nothing was created. */
  | { kind: "existing" }
  /** No client was created: no credentials configured and none to be generated. */
  | { kind: "none" }
  /** An admin client was created with the configured secret. */
  | { kind: "created"; clientId: string }
  /** An admin client was created with a generated secret, to be shown once and never again. */
  | { kind: "generated"; clientId: string; secret: string };

/**
 * Makes sure the {@link MASTER_REALM} exists with the global admin scopes (`admin`, `admin.read`).
 * Safe to run on several instances at once: whatever another made first is kept.
 */
export async function ensureMasterRealm(repository: RealmRepository): Promise<void> {
  await ignoreConflict(repository.createRealm({ name: MASTER_REALM, ...REALM_DEFAULTS }));
  for (const name of [ADMIN_SCOPE, ADMIN_READ_SCOPE]) {
    if (!(await repository.getScope(MASTER_REALM, name))) await ignoreConflict(repository.createScope(MASTER_REALM, { name, audiences: [] }));
  }
}

/**
 * An admin client in the master realm, with a secret, a service account, `admin` as its default
 * scope and `admin.read` as an optional one. Throws {@link StorageConflictError} if the id is taken.
 */
export async function createAdminClient(
  repository: RealmRepository,
  clientId: string,
  secret: string,
  scopes: { defaultScopes: string[]; optionalScopes: string[] } = { defaultScopes: [ADMIN_SCOPE], optionalScopes: [ADMIN_READ_SCOPE] },
): Promise<Client> {
  const client: Client = {
    clientId,
    enabled: true,
    publicClient: false,
    authMethods: ["client_secret_basic", "client_secret_post"],
    secretHash: await hashClientSecret(secret),
    serviceAccount: true,
    serviceAccountUserId: randomUUID(),
    ...scopes,
    resourceUris: [],
    tokenExchange: { ...TOKEN_EXCHANGE_DEFAULTS, identityProviders: [] },
  };
  await repository.createClient(MASTER_REALM, client);
  return client;
}

/**
 * On a first start (a master realm without clients), creates the admin client from the configured
 * id and secret, or with a generated secret when `generateSecret` allows it. There is no default
 * password: without either, no admin client exists and every AdminService call is refused.
 */
export async function bootstrapAdmin(repository: RealmRepository, options: BootstrapAdminOptions): Promise<BootstrapOutcome> {
  await ensureMasterRealm(repository);
  if ((await repository.listClients(MASTER_REALM)).length > 0) return { kind: "existing" };
  const clientId = options.clientId || DEFAULT_BOOTSTRAP_CLIENT_ID;
  if (options.secret) {
    const created = await ignoreConflict(createAdminClient(repository, clientId, options.secret));
    return created ? { kind: "created", clientId } : { kind: "existing" };
  }
  if (!options.generateSecret) return { kind: "none" };
  const secret = randomBytes(32).toString("base64url");
  const created = await ignoreConflict(createAdminClient(repository, clientId, secret));
  return created ? { kind: "generated", clientId, secret } : { kind: "existing" };
}

/** Runs a create; another instance having created the same thing first is fine (resolves false). */
async function ignoreConflict(creating: Promise<unknown>): Promise<boolean> {
  try {
    await creating;
    return true;
  } catch (error) {
    if (error instanceof StorageConflictError) return false;
    throw error;
  }
}
