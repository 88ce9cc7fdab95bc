import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { REALM_DEFAULTS, type AuditEvent } from "../../src/domain/index.js";
import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import { runRealmRepositoryConformance } from "./realm-repository.conformance.js";

// Every open() is fresh storage; a memory repository's storage is the instance itself, so "a second
// instance on the same storage" is that same instance.
runRealmRepositoryConformance("MemoryRealmRepository", async () => {
  const repo = new MemoryRealmRepository();
  return { repo, openSecond: async () => repo, cleanup: () => repo.close() };
});

describe("MemoryRealmRepository audit event bound", () => {
  it("more events than maxEventsPerRealm then the newest are kept, the oldest dropped, at most a tenth over the bound", async () => {
    const repo = new MemoryRealmRepository({ maxEventsPerRealm: 20 });
    await repo.createRealm({ name: "r", ...REALM_DEFAULTS });
    const event = (i: number): AuditEvent => ({
      id: randomUUID(),
      realm: "r",
      kind: "token_exchange",
      time: new Date(Date.UTC(2026, 10, 26, 12, 0, i)),
      result: "success",
      clientId: "gateway",
      jtis: [],
    });
    for (let i = 0; i < 50; i++) await repo.appendEvents([event(i)]);
    const kept = (await repo.listEvents("r", { pageSize: 100 })).items;
    assert.ok(kept.length >= 20 && kept.length <= 22, `${kept.length} kept`);
    assert.deepEqual(kept[0].time, event(49).time, "the newest is kept");
    assert.ok(kept.every((e) => e.time >= event(50 - kept.length).time), "only the newest are kept");
  });
});
