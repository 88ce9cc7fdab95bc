/** Unit tests of the client library's cache: key, LRU bound, single-flight, expiry, refresh ahead, refusals, hooks. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exchangeCacheKey } from "../../packages/client/src/cache/cache-key.js";
import { LruCache } from "../../packages/client/src/cache/lru-cache.js";
import { TokenExchanger, TokenExchangeError, type ExchangeParams, type ExchangeResult } from "../../packages/client/src/index.js";

/** A fake Tessera call that counts calls and issues `token-N` for `expiresIn` seconds, or refuses. */
function countingCall(options: { expiresIn?: number; refuse?: () => boolean; delayMs?: number } = {}) {
  const calls: ExchangeParams[] = [];
  const call = async (params: ExchangeParams): Promise<ExchangeResult> => {
    const number = calls.push(params);
    await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 0));
    if (options.refuse?.()) throw new TokenExchangeError({ error: "invalid_request", errorDescription: "subject token revoked" });
    return { accessToken: `token-${number}`, issuedTokenType: "urn:ietf:params:oauth:token-type:access_token", tokenType: "Bearer", expiresIn: options.expiresIn ?? 300, scope: [] };
  };
  return { call, calls };
}

const PARAMS: ExchangeParams = { subjectToken: "subject-a", audience: ["orders-api"], scope: ["orders.read"] };

describe("exchangeCacheKey", () => {
  it("is a SHA-256 that holds no part of the token, the same for reordered lists, different for any other field", () => {
    const key = exchangeCacheKey({ subjectToken: "eyJ.secret.token", audience: ["a", "b"], scope: ["x", "y"] });
    assert.match(key, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!key.includes("secret"));
    assert.equal(exchangeCacheKey({ subjectToken: "eyJ.secret.token", audience: ["b", "a"], scope: ["y", "x"] }), key);
    const variants: ExchangeParams[] = [
      { subjectToken: "other", audience: ["a", "b"], scope: ["x", "y"] },
      { subjectToken: "eyJ.secret.token", audience: ["a"], scope: ["x", "y"] },
      { subjectToken: "eyJ.secret.token", audience: ["a", "b"], scope: ["x"] },
      { subjectToken: "eyJ.secret.token", audience: ["a", "b"], scope: ["x", "y"], resource: ["https://r"] },
      { subjectToken: "eyJ.secret.token", audience: ["a", "b"], scope: ["x", "y"], actorToken: "actor" },
      { subjectToken: "eyJ.secret.token", audience: ["a", "b"], scope: ["x", "y"], requestedTokenType: "urn:ietf:params:oauth:token-type:id_token" },
      { subjectToken: "eyJ.secret.token", audience: ["a b"], scope: ["x", "y"] },
    ];
    const keys = new Set(variants.map(exchangeCacheKey));
    assert.equal(keys.size, variants.length);
    assert.ok(!keys.has(key));
  });
});

describe("LruCache", () => {
  it("drops the least recently used entry past its bound; a read makes an entry recent", () => {
    const cache = new LruCache<string, number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    assert.equal(cache.get("a"), 1);
    cache.set("c", 3);
    assert.equal(cache.size, 2);
    assert.equal(cache.get("b"), undefined);
    assert.equal(cache.get("a"), 1);
    assert.equal(cache.get("c"), 3);
  });

  it("refuses a bound that is not a positive integer", () => {
    assert.throws(() => new LruCache(0), RangeError);
  });
});

describe("TokenExchanger", () => {
  it("a second exchange of the same request is a cache hit: one call to Tessera, hooks count one miss and one hit", async () => {
    const { call, calls } = countingCall();
    const counts = { hit: 0, miss: 0, exchanges: [] as string[] };
    const exchanger = new TokenExchanger({
      call,
      hooks: { onCacheHit: () => counts.hit++, onCacheMiss: () => counts.miss++, onExchange: ({ outcome }) => counts.exchanges.push(outcome) },
    });
    const first = await exchanger.exchange(PARAMS);
    const second = await exchanger.exchange({ ...PARAMS, scope: ["orders.read"] });
    assert.equal(first.accessToken, "token-1");
    assert.equal(second.accessToken, "token-1");
    assert.equal(calls.length, 1);
    assert.deepEqual(counts, { hit: 1, miss: 1, exchanges: ["ok"] });
  });

  it("concurrent exchanges of one request share a single call (single-flight); other requests get their own", async () => {
    const { call, calls } = countingCall({ delayMs: 20 });
    const exchanger = new TokenExchanger({ call });
    const results = await Promise.all([
      ...Array.from({ length: 10 }, () => exchanger.exchange(PARAMS)),
      exchanger.exchange({ ...PARAMS, audience: ["inventory-api"] }),
    ]);
    assert.equal(calls.length, 2);
    assert.equal(new Set(results.slice(0, 10).map((r) => r.accessToken)).size, 1);
    assert.notEqual(results[10].accessToken, results[0].accessToken);
  });

  it("never caches a refusal: each caller gets the typed error, and the next call asks Tessera again", async () => {
    let refuse = true;
    const { call, calls } = countingCall({ refuse: () => refuse, delayMs: 5 });
    const exchanger = new TokenExchanger({ call });
    const concurrent = await Promise.allSettled([exchanger.exchange(PARAMS), exchanger.exchange(PARAMS)]);
    for (const outcome of concurrent) {
      assert.equal(outcome.status, "rejected");
      const reason = (outcome as PromiseRejectedResult).reason as TokenExchangeError;
      assert.ok(reason instanceof TokenExchangeError);
      assert.equal(reason.error, "invalid_request");
      assert.equal(reason.errorDescription, "subject token revoked");
    }
    assert.equal(calls.length, 1, "the concurrent refusal was shared");
    await assert.rejects(exchanger.exchange(PARAMS), TokenExchangeError);
    assert.equal(calls.length, 2, "the refusal was not cached");
    refuse = false;
    assert.equal((await exchanger.exchange(PARAMS)).accessToken, "token-3");
    assert.equal(exchanger.size, 1);
  });

  it("serves a token until its last expiryMarginSeconds, then exchanges again; expiresIn counts down", async () => {
    let now = 1_000_000;
    const { call, calls } = countingCall({ expiresIn: 300 });
    const exchanger = new TokenExchanger({ call, expiryMarginSeconds: 30, refreshAheadSeconds: 30, now: () => now });
    await exchanger.exchange(PARAMS);
    now += 269_000;
    const cached = await exchanger.exchange(PARAMS);
    assert.equal(cached.accessToken, "token-1");
    assert.equal(cached.expiresIn, 31);
    now += 1_000;
    assert.equal((await exchanger.exchange(PARAMS)).accessToken, "token-2");
    assert.equal(calls.length, 2);
  });

  it("refreshes ahead: inside refreshAheadSeconds the cached token is served and a new one fetched in the background", async () => {
    let now = 1_000_000;
    const { call, calls } = countingCall({ expiresIn: 300 });
    const exchanger = new TokenExchanger({ call, expiryMarginSeconds: 10, refreshAheadSeconds: 60, now: () => now });
    await exchanger.exchange(PARAMS);
    now += 250_000;
    assert.equal((await exchanger.exchange(PARAMS)).accessToken, "token-1", "served from cache");
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(calls.length, 2, "refreshed in the background");
    assert.equal((await exchanger.exchange(PARAMS)).accessToken, "token-2");
  });

  it("a refused refresh ahead drops the cached token: the next caller gets the refusal", async () => {
    let now = 1_000_000;
    let refuse = false;
    const { call, calls } = countingCall({ expiresIn: 300, refuse: () => refuse });
    const exchanger = new TokenExchanger({ call, expiryMarginSeconds: 10, refreshAheadSeconds: 60, now: () => now });
    await exchanger.exchange(PARAMS);
    refuse = true;
    now += 250_000;
    assert.equal((await exchanger.exchange(PARAMS)).accessToken, "token-1");
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(exchanger.size, 0);
    await assert.rejects(exchanger.exchange(PARAMS), TokenExchangeError);
    assert.equal(calls.length, 3);
  });

  it("a token living no longer than the margin is handed out but not cached", async () => {
    const { call, calls } = countingCall({ expiresIn: 20 });
    const exchanger = new TokenExchanger({ call, expiryMarginSeconds: 30 });
    await exchanger.exchange(PARAMS);
    await exchanger.exchange(PARAMS);
    assert.equal(calls.length, 2);
    assert.equal(exchanger.size, 0);
  });

  it("holds at most maxEntries tokens, dropping the least recently used", async () => {
    const { call, calls } = countingCall();
    const exchanger = new TokenExchanger({ call, maxEntries: 2 });
    for (const subjectToken of ["s1", "s2", "s3"]) await exchanger.exchange({ subjectToken });
    assert.equal(exchanger.size, 2);
    await exchanger.exchange({ subjectToken: "s1" });
    assert.equal(calls.length, 4, "s1 was evicted");
    await exchanger.exchange({ subjectToken: "s3" });
    assert.equal(calls.length, 4, "s3 is still cached");
  });

  it("refuses an empty subject token without calling Tessera; a throwing hook does not fail the exchange", async () => {
    const { call, calls } = countingCall();
    const exchanger = new TokenExchanger({ call, hooks: { onCacheMiss: () => { throw new Error("broken metrics"); } } });
    await assert.rejects(exchanger.exchange({ subjectToken: "" }), (error: TokenExchangeError) => error.error === "invalid_request");
    assert.equal(calls.length, 0);
    assert.equal((await exchanger.exchange(PARAMS)).accessToken, "token-1");
  });
});
