import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { REALM_DEFAULTS, type Client, type Realm } from "../../src/domain/index.js";
import { cacheConfiguration } from "../../src/storage/cached-realm-repository.js";
import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { TestClock } from "../support/test-clock.js";

const realm = (name: string): Realm => ({ name, ...REALM_DEFAULTS });

/** A repository that counts the calls reaching it. */
function counting(inner: RealmRepository): { repository: RealmRepository; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const repository = new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string") return value;
      return (...args: unknown[]) => {
        calls.set(property, (calls.get(property) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { repository, calls };
}

describe("configuration cache", () => {
  it("a configuration read twice within the TTL then storage is asked once", async () => {
    const { repository, calls } = counting(new MemoryRealmRepository());
    await repository.createRealm(realm("a"));
    const cached = cacheConfiguration(repository, new TestClock());
    await cached.getRealm("a");
    await cached.getRealm("a");
    assert.equal(calls.get("getRealm"), 1);
  });

  it("a write through the cache then the next read sees it at once", async () => {
    const cached = cacheConfiguration(new MemoryRealmRepository(), new TestClock());
    await cached.createRealm(realm("a"));
    assert.equal((await cached.getRealm("a"))?.accessTokenLifespan, 300);
    await cached.updateRealm({ ...realm("a"), accessTokenLifespan: 60 });
    assert.equal((await cached.getRealm("a"))?.accessTokenLifespan, 60);
  });

  it("another instance's write then seen once the TTL has passed, not before", async () => {
    const shared = new MemoryRealmRepository();
    await shared.createRealm(realm("a"));
    const clock = new TestClock();
    const cached = cacheConfiguration(shared, clock, { ttlMs: 5000 });
    await cached.getRealm("a");
    await shared.updateRealm({ ...realm("a"), accessTokenLifespan: 60 });
    assert.equal((await cached.getRealm("a"))?.accessTokenLifespan, 300, "within the TTL: the cached value");
    clock.advance(6);
    assert.equal((await cached.getRealm("a"))?.accessTokenLifespan, 60);
  });

  it("a caller that tries to change a cached value then a TypeError, and the cache is unchanged", async () => {
    const cached = cacheConfiguration(new MemoryRealmRepository(), new TestClock());
    await cached.createRealm(realm("a"));
    const client: Client = {
      clientId: "c",
      enabled: true,
      publicClient: true,
      authMethods: [],
      serviceAccount: false,
      serviceAccountUserId: "c-service-account",
      defaultScopes: ["orders.read"],
      optionalScopes: [],
      resourceUris: [],
      tokenExchange: { enabled: false, refreshTokens: "none", scopePolicy: "downscope", delegation: false, identityProviders: [] },
    };
    await cached.createClient("a", client);
    const first = await cached.getRealm("a");
    assert.throws(() => {
      if (first) first.accessTokenLifespan = 1;
    }, TypeError);
    const read = await cached.getClient("a", "c");
    assert.throws(() => read?.defaultScopes.push("orders.write"), TypeError);
    assert.equal((await cached.getRealm("a"))?.accessTokenLifespan, 300);
    assert.deepEqual((await cached.getClient("a", "c"))?.defaultScopes, ["orders.read"]);
  });

  it("sessions, revocations and other state then never cached", async () => {
    const { repository, calls } = counting(new MemoryRealmRepository());
    const cached = cacheConfiguration(repository, new TestClock());
    await cached.isTokenRevoked("a", "j");
    await cached.isTokenRevoked("a", "j");
    assert.equal(calls.get("isTokenRevoked"), 2);
  });
});
