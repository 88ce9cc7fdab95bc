import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GroupCommit } from "../../src/storage/group-commit.js";

/** A storage stand-in whose batches the test answers one at a time. */
function controlledStorage() {
  const batches: { items: number[]; answer: () => void; fail: (error: Error) => void }[] = [];
  const send = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ items, answer: () => resolve(items.map((item) => `result ${item}`)), fail: reject });
    });
  return { batches, send };
}

/** A few turns of the event loop: enough for any batch that is due to have been sent. */
const settle = async () => {
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
};

describe("GroupCommit", () => {
  it("a lone call is sent at once, alone", async () => {
    const { batches, send } = controlledStorage();
    const commit = new GroupCommit(send);
    const result = commit.submit(1);
    await settle();
    assert.deepEqual(batches.map((batch) => batch.items), [[1]]);
    batches[0].answer();
    assert.equal(await result, "result 1");
  });

  it("calls made while a batch is in flight wait for it, then go out together, each answered with its own result", async () => {
    const { batches, send } = controlledStorage();
    const commit = new GroupCommit(send);
    const first = commit.submit(1);
    await settle();
    const waiting = [2, 3, 4].map((item) => commit.submit(item));
    await settle();
    assert.equal(batches.length, 1, "nothing more is sent while the first batch is in flight");
    batches[0].answer();
    await first;
    await settle();
    assert.deepEqual(batches[1].items, [2, 3, 4]);
    batches[1].answer();
    assert.deepEqual(await Promise.all(waiting), ["result 2", "result 3", "result 4"]);
  });

  it("a failed batch rejects each of its calls, and the next batch is still sent", async () => {
    const { batches, send } = controlledStorage();
    const commit = new GroupCommit(send);
    const first = commit.submit(1);
    await settle();
    const second = commit.submit(2);
    batches[0].fail(new Error("storage unavailable"));
    await assert.rejects(first, /storage unavailable/);
    await settle();
    batches[1].answer();
    assert.equal(await second, "result 2");
  });

  it("more calls than maxBatch go out in several batches", async () => {
    const { batches, send } = controlledStorage();
    const commit = new GroupCommit(send, 2);
    const results = [1, 2, 3].map((item) => commit.submit(item));
    await settle();
    batches[0].answer();
    await settle();
    batches[1].answer();
    assert.deepEqual(batches.map((batch) => batch.items), [[1, 2], [3]]);
    assert.deepEqual(await Promise.all(results), ["result 1", "result 2", "result 3"]);
  });
});
