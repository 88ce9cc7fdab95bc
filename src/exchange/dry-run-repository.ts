import type { RealmRepository } from "../storage/realm-repository.js";

/** Reads pass through to storage. */
const READS = new Set<keyof RealmRepository>([
  "getRealm",
  "listRealms",
  "getClient",
  "findClientByResourceUri",
  "listClients",
  "getScope",
  "listScopes",
  "getUser",
  "findUserByUsername",
  "listUsers",
  "getIdentityProvider",
  "listIdentityProviders",
  "findLink",
  "findLinkOfUser",
  "listLinksOfUser",
  "listSigningKeys",
  "getSession",
  "findRefreshToken",
  "listChildTokens",
  "isTokenRevoked",
  "listEvents",
]);

/**
 * The writes a token exchange makes, answered as storage would without writing: a session, a
 * refresh token, a new user and link, a stored upstream token, an assertion's `jti`, the lineage
 * of the issued token (which tells whether a parent was revoked meanwhile, so the dry run asks).
 */
function dryWrites(repository: RealmRepository): Partial<RealmRepository> {
  const nothing = () => Promise.resolve();
  return {
    createSession: nothing,
    storeRefreshToken: nothing,
    createUser: nothing,
    updateUser: nothing,
    createLink: nothing,
    deleteLink: () => Promise.resolve(true),
    storeLinkToken: nothing,
    // RFC 7523 §3: the jti is not consumed, so a replayed assertion is not noticed by a dry run.
    consumeJti: () => Promise.resolve(true),
    recordLineage: async (realm, lineage) => !(await repository.isTokenRevoked(realm, lineage.parentJti)),
  };
}

/**
 * A repository for ExplainExchange: reads are the real ones, the exchange's writes are dry runs
 * ({@link dryWrites}), and any other write throws, so a dry run can never change state.
 */
export function dryRunRepository(repository: RealmRepository): RealmRepository {
  const writes = dryWrites(repository);
  return new Proxy(repository, {
    get(target, property, receiver) {
      const name = property as keyof RealmRepository;
      if (READS.has(name)) {
        const read = Reflect.get(target, property, receiver) as (...args: unknown[]) => unknown;
        return read.bind(target);
      }
      if (name in writes) return writes[name];
      if (typeof property === "string" && typeof Reflect.get(target, property) === "function") {
        return () => Promise.reject(new Error(`${property} is not allowed in a dry run`));
      }
      return Reflect.get(target, property, receiver);
    },
  });
}
