import { REALM_NAME_PATTERN, type Realm, type Scope, type User } from "../domain/index.js";
import type { RealmBundle } from "../storage/realm-repository.js";
import { prefixIssues, type ValidationIssue } from "./issues.js";
import { validateClient } from "./validate-client.js";
import { validateIdentityProvider } from "./validate-identity-provider.js";

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Checks a realm's settings: its name (a URL path segment, {@link REALM_NAME_PATTERN}) and its
 * lifespans (positive whole seconds). Paths are the realm file's top-level keys.
 */
export function validateRealm(realm: Realm): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (!REALM_NAME_PATTERN.test(realm.name)) {
    const expected = 'expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit';
    issues.push({ path: ["realm"], message: `${expected}, got ${JSON.stringify(realm.name)}` });
  }
  const positive = ["accessTokenLifespan", "refreshTokenLifespan", "sessionIdleTimeout", "sessionMaxLifespan", "maxDelegationDepth"] as const;
  for (const key of positive) {
    const value = realm[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      const unit = key === "maxDelegationDepth" ? "" : " (seconds)";
      issues.push({ path: [key], message: `expected a positive integer${unit}, got ${value}` });
    }
  }
  return issues;
}

/** Checks a scope: its name is an RFC 6749 scope token and each audience names a client of the realm. */
export function validateScope(scope: Scope, context: { clientIds: ReadonlySet<string> }): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (!SCOPE_TOKEN.test(scope.name)) {
    const message = 'expected a scope token (RFC 6749 §3.3: printable ASCII, no space, " or \\)';
    issues.push({ path: ["name"], message });
  }
  scope.audiences.forEach((audience, i) => {
    if (!context.clientIds.has(audience)) {
      issues.push({
        path: ["audiences", i],
        message: `expected the client id of a client of the realm, got ${JSON.stringify(audience)}`,
      });
    }
  });
  return issues;
}

/** Checks a user: a non-empty id and username. */
export function validateUser(user: User): ValidationIssue[] {
  return (["id", "username"] as const)
    .filter((key) => user[key] === "")
    .map((key) => ({ path: [key], message: "expected a non-empty string" }));
}

/**
 * Checks a whole realm as `RealmRepository.importRealm` would store it: the realm settings,
 * every client, scope and user, unique client ids, scope names, usernames and user ids, and that
 * every reference (a client's scopes, a scope's audiences, resource URIs) resolves within the
 * bundle. Paths are those of the realm file (`clients[2].defaultScopes[0]`); empty when valid.
 */
export function validateRealmBundle(bundle: RealmBundle): ValidationIssue[] {
  const issues = [
    ...validateRealm(bundle.realm),
    ...duplicateIssues("scopes", "name", bundle.scopes),
    ...duplicateIssues("clients", "clientId", bundle.clients),
    ...duplicateIssues("users", "username", bundle.users),
    ...duplicateIssues("users", "id", bundle.users),
    ...duplicateIssues("identityProviders", "alias", bundle.identityProviders),
  ];
  bundle.identityProviders.forEach((provider, i) =>
    issues.push(...prefixIssues(["identityProviders", i], validateIdentityProvider(provider))),
  );
  const scopeNames = new Set(bundle.scopes.map((s) => s.name));
  const clientIds = new Set(bundle.clients.map((c) => c.clientId));
  const providerAliases = new Set(bundle.identityProviders.map((p) => p.alias));
  const claimedResourceUris = new Map<string, string>();
  bundle.clients.forEach((client, i) => {
    issues.push(...prefixIssues(["clients", i], validateClient(client, { scopeNames, clientIds, providerAliases, claimedResourceUris })));
    for (const uri of client.resourceUris) {
      if (!claimedResourceUris.has(uri)) claimedResourceUris.set(uri, client.clientId);
    }
  });
  bundle.scopes.forEach((scope, i) => issues.push(...prefixIssues(["scopes", i], validateScope(scope, { clientIds }))));
  bundle.users.forEach((user, i) => issues.push(...prefixIssues(["users", i], validateUser(user))));
  issues.push(...linkIssues(bundle, providerAliases));
  return issues;
}

/**
 * Links name a provider of the realm, and are unique per (alias, external id) and per (alias,
 * user), as storage keeps them (see `RealmRepository.createLink`).
 */
function linkIssues(bundle: RealmBundle, providerAliases: ReadonlySet<string>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seenExternal = new Set<string>();
  const seenUser = new Set<string>();
  const userIndex = new Map(bundle.users.map((u, i) => [u.id, i]));
  const position = new Map<string, number>();
  for (const link of bundle.links ?? []) {
    const i = userIndex.get(link.userId) ?? 0;
    const j = position.get(link.userId) ?? 0;
    position.set(link.userId, j + 1);
    const path = ["users", i, "links", j];
    if (!providerAliases.has(link.alias)) {
      issues.push({ path: [...path, "alias"], message: `expected the alias of an identity provider of the realm, got ${JSON.stringify(link.alias)}` });
    }
    const external = JSON.stringify([link.alias, link.externalUserId]);
    if (seenExternal.has(external)) issues.push({ path: [...path, "externalUserId"], message: `expected one user per identity at ${link.alias}` });
    const perUser = JSON.stringify([link.alias, link.userId]);
    if (seenUser.has(perUser)) issues.push({ path, message: `expected at most one link per identity provider, got a second to ${link.alias}` });
    seenExternal.add(external);
    seenUser.add(perUser);
  }
  return issues;
}

/** An issue for each item whose `key` repeats an earlier item's, naming where it was first. */
function duplicateIssues<K extends string, T extends Record<K, string>>(
  list: string,
  key: K,
  items: readonly T[],
): ValidationIssue[] {
  const first = new Map<string, number>();
  const issues: ValidationIssue[] = [];
  items.forEach((item, i) => {
    const earlier = first.get(item[key]);
    if (earlier === undefined) first.set(item[key], i);
    else {
      issues.push({
        path: [list, i, key],
        message: `expected a unique ${key}, got ${JSON.stringify(item[key])} as in ${list}[${earlier}]`,
      });
    }
  });
  return issues;
}
