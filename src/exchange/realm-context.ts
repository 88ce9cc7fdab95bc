import { REALM_NAME_PATTERN, type Realm, type RealmUrls } from "../domain/index.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import { oauthError } from "./errors.js";

/** A realm that exists and is enabled, with its public URLs. */
export interface RealmContext {
  realm: Realm;
  urls: RealmUrls;
}

/** Loads the realm a request names; an unknown or disabled realm is `not_found`. */
export async function requireRealm(
  repository: RealmRepository,
  urls: (realm: string) => RealmUrls,
  name: string,
): Promise<RealmContext> {
  if (!REALM_NAME_PATTERN.test(name)) throw oauthError.realmNotFound("");
  const realm = await repository.getRealm(name);
  if (!realm?.enabled) throw oauthError.realmNotFound(name);
  return { realm, urls: urls(name) };
}
