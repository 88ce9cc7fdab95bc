/**
 * Which driver failures the MongoDB adapter reports as storage unavailable (then `temporarily_unavailable` /
 * UNAVAILABLE to clients, not a 500): the ones an outage under load produced.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MongoBulkWriteError, MongoNetworkError, type BulkWriteResult } from "mongodb";
import { MongoCalls } from "../../src/storage/mongo/mongo-calls.js";
import { StorageConflictError, StorageUnavailableError } from "../../src/storage/realm-repository.js";

describe("MongoDB driver errors that mean the storage is unavailable", () => {
  const calls = new MongoCalls("127.0.0.1:1");

  it("a MongoBulkWriteError around a network error (what insertMany throws when the server has gone) then StorageUnavailableError", async () => {
    // The shape the driver builds in bulk/common.ts for "a driver related error not a bulk op error".
    const wrapped = new MongoBulkWriteError(new MongoNetworkError("connect ECONNREFUSED 127.0.0.1:1"), {} as BulkWriteResult);
    const failed = await calls.call(() => Promise.reject(wrapped)).catch((error: unknown) => error);
    assert.ok(failed instanceof StorageUnavailableError, String(failed));
    assert.match(failed.message, /^MongoDB at 127\.0\.0\.1:1 is unavailable/);
  });

  it("a MongoBulkWriteError of a duplicate key then still a conflict, not unavailable", async () => {
    const duplicate = new MongoBulkWriteError({ message: "E11000 duplicate key", code: 11000 }, {} as BulkWriteResult);
    const failed = await calls.call(() => Promise.reject(duplicate), "taken").catch((error: unknown) => error);
    assert.ok(failed instanceof StorageConflictError, String(failed));
  });

  it("a write on a socket the server has just closed (a plain EPIPE error) then StorageUnavailableError", async () => {
    const epipe = Object.assign(new Error("This socket has been ended by the other party"), { code: "EPIPE" });
    const failed = await calls.call(() => Promise.reject(epipe)).catch((error: unknown) => error);
    assert.ok(failed instanceof StorageUnavailableError);
  });

  it("any other error then that error, unchanged", async () => {
    const bug = new TypeError("not a storage problem");
    assert.equal(await calls.call(() => Promise.reject(bug)).catch((error: unknown) => error), bug);
  });
});
