/** The log formats: JSON lines or pino-pretty's, and `auto` deciding by whether stdout is a terminal. */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { createLogger, resolveLogFormat, type LogFormat } from "../../src/ops/logger.js";

/** A logger of `format` into memory, and what it wrote. */
function capture(format: LogFormat): { log: ReturnType<typeof createLogger>; text: () => string } {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString("utf8");
      done();
    },
  });
  return { log: createLogger({ destination: sink, format, mixin: () => ({ reqId: "r-1" }) }), text: () => text };
}

describe("log formats", () => {
  it("auto is pretty on a terminal and JSON on a pipe or file; json and pretty are kept as asked", () => {
    assert.equal(resolveLogFormat("auto", { isTTY: true }), "pretty");
    assert.equal(resolveLogFormat("auto", { isTTY: false }), "json");
    assert.equal(resolveLogFormat("auto", {}), "json");
    assert.equal(resolveLogFormat("json", { isTTY: true }), "json");
    assert.equal(resolveLogFormat("pretty", { isTTY: false }), "pretty");
  });

  it("json: one object a line with level, time, service, the mixin's fields; secrets redacted", () => {
    const { log, text } = capture("json");
    log.info({ client: { clientId: "gateway", secret: "s3cr3t" } }, "hello");
    const line = JSON.parse(text()) as Record<string, unknown>;
    assert.equal(line.msg, "hello");
    assert.equal(line.level, 30);
    assert.equal(line.service, "tessera");
    assert.equal(line.reqId, "r-1");
    assert.deepEqual(line.client, { clientId: "gateway", secret: "[redacted]" });
  });

  it("pretty: a human-readable line with time, level, message and fields, no JSON, secrets redacted", () => {
    const { log, text } = capture("pretty");
    log.warn({ realm: "demo", client: { secret: "s3cr3t" } }, "realm already exists");
    assert.match(text(), /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: realm already exists .*"realm":"demo"/);
    assert.ok(!text().includes("s3cr3t"));
    assert.throws(() => JSON.parse(text()));
  });
});
