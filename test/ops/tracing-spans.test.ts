/**
 * The spans of provider fetches and storage calls, exported for real to an OTLP/HTTP receiver by
 * the SDK started as `tessera serve` starts it; and when the environment turns tracing on.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fetchProviderJson, ProviderUnavailableError } from "../../src/idp/provider-fetch.js";
import { instrumentRepository } from "../../src/ops/instrumented-repository.js";
import { TesseraMetrics } from "../../src/ops/metrics.js";
import { inSpan, startTracing, tracingRequested, type Tracing } from "../../src/ops/tracing.js";
import { StorageUnavailableError } from "../../src/storage/realm-repository.js";
import { attributesOf, SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type OtlpSpan } from "../support/otlp-receiver.js";
import { eventually, switchableRepository } from "./support.js";

const SECRET = "introspection-client-secret";
const TOKEN = "eyJ.subject-token.sig";

describe("tracing is on only when the environment asks", () => {
  it("an OTLP endpoint or an exporter turns it on; none, OTEL_SDK_DISABLED or nothing leave it off", () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_SERVICE_NAME: "tessera" }), false, "a service name alone is not a request");
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), true);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }), true);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: "console" }), true);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), false);
    assert.equal(tracingRequested({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), false);
  });
});

describe("provider fetch and storage spans", () => {
  let receiver: OtlpReceiver;
  let provider: Server;
  let providerUrl: string;
  let tracing: Tracing | undefined;
  const bodies: string[] = [];

  before(async () => {
    receiver = await startOtlpReceiver();
    provider = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        bodies.push(body);
        if (req.url?.startsWith("/broken")) res.writeHead(500).end();
        else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [], active: false }));
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
    providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    delete process.env.OTEL_SERVICE_NAME;
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "50" });
    tracing = await startTracing();
    assert.ok(tracing, "tracing started");

    await fetchProviderJson("jwks", `${providerUrl}/keys?tenant=acme`);
    await assert.rejects(fetchProviderJson("discovery", `${providerUrl}/broken/.well-known/openid-configuration`), ProviderUnavailableError);
    await fetchProviderJson("introspection", `${providerUrl}/introspect`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`tessera:${SECRET}`).toString("base64")}` },
      body: new URLSearchParams({ token: TOKEN }).toString(),
    });
    const { repository, setReachable } = switchableRepository();
    const storage = instrumentRepository(repository, new TesseraMetrics({ processMetrics: false }).storageDuration);
    // Outside a request, a storage call makes no span; inside one, each call is a child.
    await storage.getRealm("background");
    await inSpan("a request", {}, async () => {
      await storage.listRealms();
      setReachable(false);
      await assert.rejects(storage.getRealm("nowhere"), StorageUnavailableError);
    });
    await eventually("the request's span exported", async () => receiver.spans.some((s) => s.name === "a request"));
  });

  after(async () => {
    await tracing?.shutdown();
    provider?.close();
    receiver?.server.close();
  });

  function span(name: string): OtlpSpan {
    const found = receiver.spans.find((s) => s.name === name);
    assert.ok(found, `no span ${name} in ${JSON.stringify(receiver.spans.map((s) => s.name))}`);
    return found;
  }

  it("without OTEL_SERVICE_NAME the service is tessera", () => {
    assert.deepEqual([...receiver.services], ["tessera"]);
  });

  it("a JWKS fetch is a client span with the provider's URL without its query, and the status", () => {
    const jwks = span("provider jwks");
    assert.equal(jwks.kind, SPAN_KIND.client);
    const attributes = attributesOf(jwks);
    assert.equal(attributes["url.full"], `${providerUrl}/keys`);
    assert.equal(attributes["tessera.provider.fetch"], "jwks");
    assert.equal(attributes["http.response.status_code"], 200);
    assert.equal(attributes["tessera.outcome"], "ok");
  });

  it("a provider that answers 500 makes a failed span naming the error class, not its message", () => {
    const discovery = span("provider discovery");
    assert.equal(attributesOf(discovery)["http.response.status_code"], 500);
    assert.equal(attributesOf(discovery)["error.type"], "ProviderUnavailableError");
    assert.equal(attributesOf(discovery)["tessera.outcome"], "error");
  });

  it("an introspection call sends the token and the secret, and its span holds neither", () => {
    assert.ok(bodies.some((body) => body.includes("subject-token")), "the provider got the token");
    const values = JSON.stringify(span("provider introspection").attributes);
    assert.ok(!values.includes(SECRET) && !values.includes("subject-token"), values);
  });

  it("storage calls in a request are its client spans named by method; an unreachable storage fails its span with `unavailable`", () => {
    const request = span("a request");
    assert.equal(attributesOf(span("storage listRealms"))["db.operation.name"], "listRealms");
    assert.equal(span("storage listRealms").kind, SPAN_KIND.client);
    assert.equal(span("storage listRealms").parentSpanId, request.spanId);
    assert.equal(attributesOf(span("storage getRealm"))["error.type"], "unavailable");
    assert.equal(receiver.spans.filter((s) => s.name === "storage getRealm").length, 1, "the call outside a request made none");
  });
});
