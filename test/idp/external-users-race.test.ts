import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CLAIM_MAPPING_DEFAULTS,
  DEFAULT_PROVIDER_ALGORITHMS,
  REALM_DEFAULTS,
  type IdentityProvider,
  type UserPolicy,
} from "../../src/domain/index.js";
import { ExternalUserError, ExternalUserResolver } from "../../src/idp/external-users.js";
import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";

const REALM = "race";

function provider(userPolicy: UserPolicy): IdentityProvider {
  return {
    alias: "corp",
    enabled: true,
    issuer: "https://corp.example",
    jwksUri: "https://corp.example/jwks",
    audiences: ["tessera"],
    algorithms: [...DEFAULT_PROVIDER_ALGORITHMS],
    claims: { ...CLAIM_MAPPING_DEFAULTS, attributes: {} },
    conditions: [],
    userPolicy,
    storeTokens: false,
  };
}

async function realmWith(idp: IdentityProvider): Promise<MemoryRealmRepository> {
  const repository = new MemoryRealmRepository();
  await repository.importRealm({ realm: { ...REALM_DEFAULTS, name: REALM }, clients: [], scopes: [], users: [], identityProviders: [idp] });
  return repository;
}

/** The repository, with `method` held until `gate` opens (the other request runs meanwhile). */
function held<K extends keyof RealmRepository>(repository: RealmRepository, method: K, gate: Promise<void>): RealmRepository {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      if (property !== method) return value.bind(target);
      return async (...args: unknown[]) => {
        await gate;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const claims = { sub: "ext-1", preferred_username: "racer", iss: "https://corp.example", aud: "tessera" };

/**
 * The first-login race of ExternalUserResolver, with the interleavings forced: request B has looked
 * for the link (none yet) when request A creates the link and the user; B then continues.
 */
describe("first login of one external user by two concurrent requests", () => {
  for (const policy of ["create", "create-if-absent"] as UserPolicy[]) {
    it(`${policy}: B looked for the link before A linked and created the user, then B gets A's user`, async () => {
      const idp = provider(policy);
      const repository = await realmWith(idp);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      // B stops right after its findLink (a miss), before it looks the username up.
      const b = new ExternalUserResolver(held(repository, "findUserByUsername", gate)).resolve(REALM, idp, claims);
      await new Promise((resolve) => setImmediate(resolve));
      const a = await new ExternalUserResolver(repository).resolve(REALM, idp, claims);
      open();
      const outcome = await b.then(
        (resolved) => resolved,
        (error: unknown) => error,
      );
      assert.ok(!(outcome instanceof Error), `B failed: ${outcome instanceof ExternalUserError ? outcome.message : String(outcome)}`);
      assert.equal((outcome as { user: { id: string } }).user.id, a.user.id);
      assert.equal((await repository.findLink(REALM, "corp", "ext-1"))?.userId, a.user.id);
    });

    it(`${policy}: B looked the username up before A linked, then B loses the link insert and gets A's user`, async () => {
      const idp = provider(policy);
      const repository = await realmWith(idp);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const b = new ExternalUserResolver(held(repository, "createLink", gate)).resolve(REALM, idp, claims);
      await new Promise((resolve) => setImmediate(resolve));
      const a = await new ExternalUserResolver(repository).resolve(REALM, idp, claims);
      open();
      assert.equal((await b).user.id, a.user.id);
      assert.equal((await repository.findUserByUsername(REALM, "racer"))?.id, a.user.id);
    });

    it(`${policy}: B finds A's link before A's user exists, then B waits for the user`, async () => {
      const idp = provider(policy);
      const repository = await realmWith(idp);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      // A stops after inserting its link, before creating the user.
      const a = new ExternalUserResolver(held(repository, "createUser", gate)).resolve(REALM, idp, claims);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(await repository.findLink(REALM, "corp", "ext-1"), "A has linked");
      const b = new ExternalUserResolver(repository).resolve(REALM, idp, claims);
      setTimeout(open, 200);
      const [resolvedA, resolvedB] = await Promise.all([a, b]);
      assert.equal(resolvedB.user.id, resolvedA.user.id);
    });
  }
});
