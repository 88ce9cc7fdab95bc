import type { RealmRepository } from "../storage/realm-repository.js";
import { oauthError } from "./errors.js";

/** The targets a request asks for (RFC 8693 §2.1 `audience`, RFC 8707 `resource`). */
export interface RequestedTargets {
  audience: string[];
  resource: string[];
}

/** Each granted scope with the audiences it names (none for an audience-less scope like `profile`). */
export type ScopeAudiences = ReadonlyMap<string, readonly string[]>;

/** Reads the `audiences` of each granted scope. */
export async function scopeAudiences(repository: RealmRepository, realm: string, scopes: string[]): Promise<ScopeAudiences> {
  const found = await Promise.all(scopes.map((name) => repository.getScope(realm, name)));
  return new Map(scopes.map((name, i) => [name, found[i]?.audiences ?? []]));
}

/** The audiences a token of the granted scopes may carry: the union of the scopes' `audiences`. */
export function availableAudiences(scopes: ScopeAudiences): Set<string> {
  return new Set([...scopes.values()].flat());
}

/**
 * When the client named targets but no `scope`, keeps only the scopes meant for those targets
 * (and scopes meant for no audience in particular): a token for orders-api does not carry
 * inventory scopes the subject token happened to have.
 */
export function scopesForTargets(scopes: ScopeAudiences, aud: readonly string[]): string[] {
  return [...scopes].filter(([, audiences]) => audiences.length === 0 || audiences.some((a) => aud.includes(a))).map(([name]) => name);
}

/**
 * Resolves the `aud` of an issued token. Each `audience` value must name an enabled client of the
 * realm, each `resource` an absolute URI without fragment registered as a client's resource URI,
 * and each named client must be among the available audiences; otherwise `invalid_target`.
 * Without targets the token is for every available audience (or `fallback` when there are none).
 */
export async function resolveAudience(
  repository: RealmRepository,
  realm: string,
  requested: RequestedTargets,
  available: ReadonlySet<string>,
  fallback: string,
): Promise<string[]> {
  const named = new Set<string>();
  for (const audience of requested.audience) {
    const client = await repository.getClient(realm, audience);
    // RFC 8693 §2.2.2: invalid_target for a target the server does not know.
    if (!client?.enabled) throw oauthError.invalidTarget(`audience ${quote(audience)} is unknown`);
    named.add(client.clientId);
  }
  for (const resource of requested.resource) {
    // RFC 8707 §2: an absolute URI without a fragment; otherwise invalid_target.
    if (!isAbsoluteUriWithoutFragment(resource)) {
      throw oauthError.invalidTarget("resource must be an absolute URI without a fragment");
    }
    const client = await repository.findClientByResourceUri(realm, resource);
    if (!client?.enabled) throw oauthError.invalidTarget(`resource ${quote(resource)} is unknown`);
    named.add(client.clientId);
  }
  for (const clientId of named) {
    // RFC 8693 §2.2.2: the granted scopes do not cover this target.
    if (!available.has(clientId)) {
      throw oauthError.invalidTarget(`target ${quote(clientId)} is not an audience of the granted scopes`);
    }
  }
  if (named.size > 0) return [...named];
  return available.size > 0 ? [...available] : [fallback];
}

function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (!URL.canParse(value) || value.includes("#")) return false;
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value);
}

/** Quotes a client-supplied value for a description, cut short so an error never echoes a long input. */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}...` : value);
}
