import { verifyClientSecret } from "../crypto/client-secrets.js";
import type { Client, IdentityProvider, Realm, Scope, User } from "../domain/index.js";
import type { RealmFile } from "../realm-file/index.js";
import { validateRealmBundle, type ValidationIssue } from "../realm-file/index.js";
import type { RealmBundle, RealmLink, RealmRepository } from "../storage/realm-repository.js";
import { canonicalJson, newEtag } from "./revisions.js";

/** Every object of a stored realm, users included (all pages), or `undefined` for an unknown realm. */
export async function readRealmBundle(repository: RealmRepository, name: string): Promise<RealmBundle | undefined> {
  const realm = await repository.getRealm(name);
  if (!realm) return undefined;
  const users: User[] = [];
  let pageToken: string | undefined;
  do {
    const page = await repository.listUsers(name, { pageSize: 1000, ...(pageToken && { pageToken }) });
    users.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  const [clients, scopes, identityProviders] = await Promise.all([
    repository.listClients(name),
    repository.listScopes(name),
    repository.listIdentityProviders(name),
  ]);
  return { realm, clients, scopes, users, identityProviders };
}

/** The kinds of object a realm file holds. */
export type RealmObjectKind = "realm" | "client" | "scope" | "user" | "identity_provider" | "link";

/** One change an import makes. */
export interface RealmChange {
  kind: RealmObjectKind;
  /** Realm name, client id, scope name, username, alias, or `username@alias` of a link. */
  key: string;
  action: "create" | "update" | "delete";
  /** For updates: the top-level fields that change. */
  fields: string[];
}

/** What importing a realm file would do, checked and ready to apply. */
export interface RealmImportPlan {
  /** The realm as it will be stored (secrets kept from storage where the file has none). */
  bundle: RealmBundle;
  /** What is stored now; `undefined` when the import creates the realm. */
  existing: RealmBundle | undefined;
  changes: RealmChange[];
  /** The links of the file that storage does not hold yet (links are only ever added by an import). */
  newLinks: RealmLink[];
  /** Broken rules (realm-file paths); the plan must not be applied unless empty. */
  issues: ValidationIssue[];
}

/**
 * Plans the import of a parsed realm file over what storage holds: objects are matched by their
 * keys; what the file leaves out or repeats that storage knows is kept (client secrets, introspection client
 * secrets, client service-account ids and user ids the file does not name); then the whole realm is
 * checked as a realm file is. With `prune`, stored objects the file does not hold are deleted.
 */
export async function planRealmImport(
  repository: RealmRepository,
  file: RealmFile,
  parsed: RealmBundle,
  options: { prune: boolean },
): Promise<RealmImportPlan> {
  const existing = await readRealmBundle(repository, parsed.realm.name);
  const bundle = structuredClone(parsed);
  if (existing) {
    const clients = new Map(existing.clients.map((c) => [c.clientId, c]));
    for (const [i, client] of bundle.clients.entries()) {
      const stored = clients.get(client.clientId);
      if (!stored) continue;
      // The stored hash stays when the file has no secret, or the same one (a re-run changes nothing).
      const secret = file.clients?.[i]?.secret;
      const same = secret !== undefined && (await verifyClientSecret(stored.secretHash, secret));
      if ((client.secretHash === undefined || same) && stored.secretHash !== undefined && !client.publicClient) client.secretHash = stored.secretHash;
      if (file.clients?.[i]?.serviceAccountUserId === undefined) client.serviceAccountUserId = stored.serviceAccountUserId;
    }
    const users = new Map(existing.users.map((u) => [u.username, u]));
    const kept = new Map<string, string>();
    bundle.users.forEach((user, i) => {
      const stored = users.get(user.username);
      if (stored && file.users?.[i]?.id === undefined) {
        kept.set(user.id, stored.id);
        user.id = stored.id;
      }
    });
    for (const link of bundle.links ?? []) link.userId = kept.get(link.userId) ?? link.userId;
    const providers = new Map(existing.identityProviders.map((p) => [p.alias, p]));
    for (const provider of bundle.identityProviders) {
      const kept = providers.get(provider.alias)?.introspection?.encryptedClientSecret;
      if (provider.introspection?.encryptedClientSecret === "" && kept) provider.introspection.encryptedClientSecret = kept;
    }
  }
  const issues = validateRealmBundle(bundle);
  const changes = existing ? diffBundles(existing, bundle, options.prune) : creations(bundle);
  const newLinks = existing ? await linksToAdd(repository, bundle, issues) : (bundle.links ?? []);
  const usernames = new Map(bundle.users.map((u) => [u.id, u.username]));
  changes.push(...newLinks.map((l): RealmChange => ({ kind: "link", key: `${usernames.get(l.userId)}@${l.alias}`, action: "create", fields: [] })));
  return { bundle, existing, changes, newLinks, issues };
}

/** The bundle's links storage lacks; an identity already linked to another user is an issue. */
async function linksToAdd(repository: RealmRepository, bundle: RealmBundle, issues: ValidationIssue[]): Promise<RealmLink[]> {
  const added: RealmLink[] = [];
  for (const link of bundle.links ?? []) {
    const stored = await repository.findLink(bundle.realm.name, link.alias, link.externalUserId);
    if (!stored) added.push(link);
    else if (stored.userId !== link.userId) {
      const i = bundle.users.findIndex((u) => u.id === link.userId);
      issues.push({ path: ["users", i, "links"], message: `expected an identity not linked yet: ${link.alias} ${JSON.stringify(link.externalUserId)} is another user's` });
    }
  }
  return added;
}

/** Adds links once the realm, its identity providers and its users are stored. */
export async function storeRealmLinks(repository: RealmRepository, realm: string, links: readonly RealmLink[]): Promise<void> {
  for (const link of links) await repository.createLink(realm, { ...link, createdAt: new Date() });
}

/** Everything an import creating the realm makes. */
function creations(bundle: RealmBundle): RealmChange[] {
  const created = (kind: RealmObjectKind, key: string): RealmChange => ({ kind, key, action: "create", fields: [] });
  return [
    created("realm", bundle.realm.name),
    ...bundle.scopes.map((s) => created("scope", s.name)),
    ...bundle.clients.map((c) => created("client", c.clientId)),
    ...bundle.users.map((u) => created("user", u.username)),
    ...bundle.identityProviders.map((p) => created("identity_provider", p.alias)),
  ];
}

/** The top-level fields whose values differ (versions aside). */
function changedFields(before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  keys.delete("etag");
  return [...keys].filter((key) => canonicalJson(a[key]) !== canonicalJson(b[key])).sort();
}

function diffBundles(existing: RealmBundle, wanted: RealmBundle, prune: boolean): RealmChange[] {
  const changes: RealmChange[] = [];
  const realmFields = changedFields(existing.realm, wanted.realm);
  if (realmFields.length > 0) changes.push({ kind: "realm", key: wanted.realm.name, action: "update", fields: realmFields });
  const diff = <T extends object>(kind: RealmObjectKind, before: T[], after: T[], keyOf: (item: T) => string) => {
    const stored = new Map(before.map((item) => [keyOf(item), item]));
    const kept = new Set<string>();
    for (const item of after) {
      const key = keyOf(item);
      kept.add(key);
      const current = stored.get(key);
      if (!current) changes.push({ kind, key, action: "create", fields: [] });
      else {
        const fields = changedFields(current, item);
        if (fields.length > 0) changes.push({ kind, key, action: "update", fields });
      }
    }
    if (prune) for (const key of stored.keys()) if (!kept.has(key)) changes.push({ kind, key, action: "delete", fields: [] });
  };
  diff<Scope>("scope", existing.scopes, wanted.scopes, (s) => s.name);
  diff<Client>("client", existing.clients, wanted.clients, (c) => c.clientId);
  diff<User>("user", existing.users, wanted.users, (u) => u.username);
  diff<IdentityProvider>("identity_provider", existing.identityProviders, wanted.identityProviders, (p) => p.alias);
  return changes;
}

/**
 * Applies a plan without issues. A new realm is written all or nothing (`importRealm`). An existing
 * one is changed object by object after the whole file was checked: a storage failure part way
 * leaves some changes made, and running the same import again completes it (imports are
 * idempotent). Written objects get new etags. Returns the realm as stored.
 */
export async function applyRealmImport(repository: RealmRepository, plan: RealmImportPlan): Promise<Realm> {
  if (plan.issues.length > 0) throw new Error("a realm import with issues cannot be applied");
  const { bundle, existing } = plan;
  const name = bundle.realm.name;
  if (!existing) {
    await repository.importRealm(bundle);
    await storeRealmLinks(repository, name, plan.newLinks);
    return bundle.realm;
  }
  const versioned = <T extends object>(item: T): T => ({ ...item, etag: newEtag() });
  const byKey = <T>(items: T[], keyOf: (item: T) => string) => new Map(items.map((item) => [keyOf(item), item]));
  const scopes = byKey(bundle.scopes, (s) => s.name);
  const clients = byKey(bundle.clients, (c) => c.clientId);
  const users = byKey(bundle.users, (u) => u.username);
  const providers = byKey(bundle.identityProviders, (p) => p.alias);
  const storedUsers = byKey(existing.users, (u) => u.username);
  let realm = existing.realm;
  for (const change of plan.changes) {
    const { kind, key, action } = change;
    if (kind === "realm") {
      realm = versioned(bundle.realm);
      await repository.updateRealm(realm);
    } else if (kind === "scope") {
      const scope = scopes.get(key);
      if (action === "delete") await repository.deleteScope(name, key);
      else if (scope && action === "create") await repository.createScope(name, versioned(scope));
      else if (scope) await repository.updateScope(name, versioned(scope));
    } else if (kind === "client") {
      const client = clients.get(key);
      if (action === "delete") await repository.deleteClient(name, key);
      else if (client && action === "create") await repository.createClient(name, versioned(client));
      else if (client) await repository.updateClient(name, versioned(client));
    } else if (kind === "user") {
      const user = users.get(key);
      const stored = storedUsers.get(key);
      if (action === "delete" && stored) await repository.deleteUser(name, stored.id);
      else if (user && action === "create") await repository.createUser(name, versioned(user));
      else if (user && stored && stored.id !== user.id) {
        // A user named by username with another id: a different user under the same name.
        await repository.deleteUser(name, stored.id);
        await repository.createUser(name, versioned(user));
      } else if (user) await repository.updateUser(name, versioned(user));
    } else if (kind === "identity_provider") {
      const provider = providers.get(key);
      if (action === "delete") await repository.deleteIdentityProvider(name, key);
      else if (provider && action === "create") await repository.createIdentityProvider(name, versioned(provider));
      else if (provider) await repository.updateIdentityProvider(name, versioned(provider));
    }
  }
  await storeRealmLinks(repository, name, plan.newLinks);
  return realm;
}
