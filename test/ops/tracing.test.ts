/**
 * OpenTelemetry tracing end to end: `tessera serve` as a child process exports over OTLP/HTTP
 * (JSON) to a receiver this test runs; an exchange over the form endpoint and a call over grpc-js
 * on `--grpc-port`, each with the caller's `traceparent`, arrive as server spans in the caller's
 * trace with client-authentication and storage children, no attribute holding a secret or a token,
 * and log lines carrying the ids. Also the log formats: JSON lines on a pipe, pretty on request.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { loadTokenExchangeClient, type ClientCredentialsResponse } from "../support/grpc-js-client.js";
import { bannerOf, eventually, jsonLines } from "./support.js";
import { attributesOf, SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type OtlpSpan } from "../support/otlp-receiver.js";

const CLI = ["--import", "tsx", "src/cli/tessera.ts", "serve", "--port", "0"];
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const GATEWAY_SECRET = "gateway-secret";
const SERVER = SPAN_KIND.server;

/** `tessera serve` with `args` and `env`, stdout and stderr collected; resolves once its banner is out. */
async function serve(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [...CLI, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d));
  child.stderr?.on("data", (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  await eventually("the banner", async () => /listening/i.test(stdout), 20_000);
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** A W3C `traceparent` of a caller's sampled span, with its ids. */
function callerTrace(): { traceId: string; spanId: string; header: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

async function form(url: string, params: Record<string, string>, traceparent?: string, requestId?: string): Promise<Record<string, string>> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`gateway:${GATEWAY_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
      ...(traceparent && { traceparent }),
      ...(requestId && { "x-request-id": requestId }),
    },
    body: new URLSearchParams(params).toString(),
  });
  const body = (await response.json()) as Record<string, string>;
  assert.equal(response.status, 200, JSON.stringify(body));
  return body;
}

describe("tracing: OTLP export of a form exchange and a grpc-js call, in the caller's trace", () => {
  let receiver: OtlpReceiver;
  let served: Awaited<ReturnType<typeof serve>>;
  let exitCode: number | null;
  const httpCaller = callerTrace();
  const grpcCaller = callerTrace();
  const probeCaller = callerTrace();
  /** What no attribute or log line may contain. */
  const secrets = [GATEWAY_SECRET];

  before(async () => {
    receiver = await startOtlpReceiver();
    served = await serve(["--grpc-port", "0"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "tessera-under-test",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    const banner = bannerOf(served.stdout());
    assert.ok(banner?.urls.grpc, served.stdout());
    const tokenUrl = `${banner.urls.main}/realms/demo/protocol/openid-connect/token`;
    const subject = await form(tokenUrl, { grant_type: "client_credentials", scope: "orders.read orders.write" });
    secrets.push(subject.access_token);
    const exchanged = await form(
      tokenUrl,
      { grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: subject.access_token, subject_token_type: ACCESS_TOKEN, scope: "orders.read" },
      httpCaller.header,
    );
    secrets.push(exchanged.access_token);
    // A traceparent that is not one (W3C Trace Context §3.2.2): served, in a trace of its own.
    secrets.push((await form(tokenUrl, { grant_type: "client_credentials" }, "00-not-a-trace-01", "malformed-traceparent")).access_token);

    const client = new (loadTokenExchangeClient())(new URL(banner.urls.grpc).host, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Basic ${Buffer.from(`gateway:${GATEWAY_SECRET}`).toString("base64")}`);
    metadata.set("traceparent", grpcCaller.header);
    const issued = await new Promise<ClientCredentialsResponse>((resolve, reject) =>
      client.ClientCredentials({ realm: "demo", scope: "orders.read" }, metadata, (error, response) => (error || !response ? reject(error) : resolve(response))),
    );
    // A health check with a traceparent of its own, on each port: probes make no spans.
    const health = new grpc.Client(new URL(banner.urls.grpc).host, grpc.credentials.createInsecure());
    const probeMetadata = new grpc.Metadata();
    probeMetadata.set("traceparent", probeCaller.header);
    const empty = (value: Buffer) => value;
    await new Promise<void>((resolve, reject) =>
      health.makeUnaryRequest("/grpc.health.v1.Health/Check", empty, empty, Buffer.alloc(0), probeMetadata, (error) => (error ? reject(error) : resolve())),
    );
    health.close();
    await (await fetch(`${banner.urls.main}/healthz`, { headers: { traceparent: probeCaller.header } })).body?.cancel();
    client.close();
    secrets.push(issued.accessToken);
    // Both traces exported (the batch is sent every 100 ms), then a clean stop.
    await eventually("both server spans at the receiver", async () => [httpCaller, grpcCaller].every((c) => receiver.spans.some((s) => s.traceId === c.traceId && s.kind === SERVER)), 10_000);
    served.child.kill("SIGTERM");
    exitCode = await served.exited;
  });

  after(() => {
    served?.child.kill("SIGKILL");
    receiver?.server.close();
  });

  /** The server span of a caller's trace, and the spans under it. */
  function traceOf(caller: { traceId: string; spanId: string }): { server: OtlpSpan; children: OtlpSpan[] } {
    const spans = receiver.spans.filter((s) => s.traceId === caller.traceId);
    const server = spans.find((s) => s.kind === SERVER);
    assert.ok(server, `no server span in trace ${caller.traceId}: ${JSON.stringify(spans.map((s) => s.name))}`);
    return { server, children: spans.filter((s) => s.parentSpanId === server.spanId) };
  }

  it("the form exchange is a server span whose parent is the caller's span, with client authentication and storage children", () => {
    const { server, children } = traceOf(httpCaller);
    assert.equal(server.parentSpanId, httpCaller.spanId);
    assert.equal(server.name, "token/token_exchange");
    const attributes = attributesOf(server);
    assert.equal(attributes["tessera.realm"], "demo");
    assert.equal(attributes["oauth.grant_type"], "urn:ietf:params:oauth:grant-type:token-exchange");
    assert.equal(attributes["oauth.subject_token_type"], ACCESS_TOKEN);
    assert.equal(attributes["oauth.issued_token_type"], ACCESS_TOKEN);
    assert.equal(attributes["tessera.outcome"], "ok");
    assert.equal(attributes["http.response.status_code"], 200);
    const authentication = children.find((s) => s.name === "client authentication");
    assert.ok(authentication, JSON.stringify(children.map((s) => s.name)));
    assert.equal(attributesOf(authentication)["oauth.client_id"], "gateway");
    assert.equal(attributesOf(authentication)["oauth.client_auth_method"], "client_secret_basic");
    const storage = receiver.spans.filter((s) => s.traceId === httpCaller.traceId && s.name.startsWith("storage "));
    assert.ok(storage.length > 0, "storage calls are traced");
    for (const span of storage) assert.equal(typeof attributesOf(span)["db.operation.name"], "string");
  });

  it("the grpc-js call on --grpc-port is a server span in the caller's trace, with a client authentication child", () => {
    const { server, children } = traceOf(grpcCaller);
    assert.equal(server.parentSpanId, grpcCaller.spanId);
    assert.equal(server.name, "tessera.exchange.v1.TokenExchangeService/ClientCredentials");
    assert.equal(attributesOf(server)["rpc.method"], "ClientCredentials");
    assert.equal(attributesOf(server)["oauth.grant_type"], "client_credentials");
    assert.ok(children.some((s) => s.name === "client authentication"));
  });

  it("a malformed traceparent is ignored: the request is served as the root of a new trace", () => {
    const span = receiver.spans.find((s) => attributesOf(s)["tessera.request_id"] === "malformed-traceparent");
    assert.ok(span, "the request has its span");
    assert.equal(span.parentSpanId ?? "", "");
    assert.match(span.traceId, /^[0-9a-f]{32}$/);
    assert.ok(![httpCaller.traceId, grpcCaller.traceId].includes(span.traceId));
  });

  it("health checks (gRPC Health on --grpc-port, /healthz) make no span", () => {
    assert.deepEqual(receiver.spans.filter((s) => s.traceId === probeCaller.traceId), []);
  });

  it("spans name the service of OTEL_SERVICE_NAME and the process without its command line; no attribute holds the client secret or a token", () => {
    assert.deepEqual([...receiver.services], ["tessera-under-test"]);
    // The command line may hold a MongoDB URI with its password: the resource has the pid, not the arguments.
    const resource = receiver.spans[0].resource ?? {};
    assert.equal(resource["process.pid"], served.child.pid);
    assert.equal(resource["process.command_args"], undefined);
    assert.ok(!JSON.stringify(receiver.spans.map((s) => s.resource)).includes("--grpc-port"));
    const values = JSON.stringify(receiver.spans.map((s) => s.attributes ?? []));
    for (const secret of secrets) assert.ok(!values.includes(secret), "a secret or token in an attribute");
  });

  it("request log lines carry the trace id and the server span's id", () => {
    for (const caller of [httpCaller, grpcCaller]) {
      const { server } = traceOf(caller);
      const line = jsonLines(served.stdout()).find((l) => l.msg === "request" && l.trace_id === caller.traceId);
      assert.ok(line, `no request line with trace_id ${caller.traceId}`);
      assert.equal(line.span_id, server.spanId);
    }
    // The banner's try-it command names the demo realm's well-known secret; no other line may.
    const logged = JSON.stringify(jsonLines(served.stdout()).filter((l) => l.msg !== "Tessera listening"));
    for (const secret of secrets) assert.ok(!logged.includes(secret), "a secret or token in a log line");
  });

  it("every stdout line of the run is JSON, the banner and the shutdown line included; exit 0", () => {
    assert.equal(exitCode, 0);
    const lines = served.stdout().trimEnd().split("\n");
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(records.some((r) => r.msg === "Tessera listening"));
    assert.ok(records.some((r) => r.msg === "SIGTERM, shutting down" && r.signal === "SIGTERM"));
  });
});

describe("log formats", () => {
  it("--log-format pretty then human-readable lines and the banner text; no tracing without an endpoint", async () => {
    const served = await serve(["--log-format", "pretty"], {});
    const caller = callerTrace();
    const base = /listening on (http:\/\/\S+)/.exec(served.stdout())?.[1];
    assert.ok(base, served.stdout());
    await form(`${base}/realms/demo/protocol/openid-connect/token`, { grant_type: "client_credentials" }, caller.header);
    await eventually("the request line", async () => /INFO.*request/.test(served.stdout()));
    served.child.kill("SIGTERM");
    assert.equal(await served.exited, 0);
    const lines = served.stdout().trimEnd().split("\n");
    assert.match(served.stdout(), /^Tessera listening on http:\/\/127\.0\.0\.1:\d+ \(gRPC, gRPC-Web, Connect and OAuth 2\.0 HTTP on one port\)$/m);
    assert.match(served.stdout(), /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: SIGTERM, shutting down/m);
    assert.ok(lines.every((line) => !line.startsWith("{")), "no JSON line");
    assert.ok(!served.stdout().includes(caller.traceId), "tracing is off: the caller's trace id is not taken up");
  });

  it("TESSERA_LOG_FORMAT=json then JSON lines, without trace ids when tracing is off", async () => {
    const served = await serve([], { TESSERA_LOG_FORMAT: "json" });
    const caller = callerTrace();
    const base = bannerOf(served.stdout())?.urls.main ?? "";
    await form(`${base}/realms/demo/protocol/openid-connect/token`, { grant_type: "client_credentials" }, caller.header);
    await eventually("the request line", async () => jsonLines(served.stdout()).some((l) => l.msg === "request"));
    served.child.kill("SIGTERM");
    assert.equal(await served.exited, 0);
    const request = jsonLines(served.stdout()).find((l) => l.msg === "request");
    assert.equal(request?.trace_id, undefined);
    for (const line of served.stdout().trimEnd().split("\n")) assert.doesNotThrow(() => JSON.parse(line), line);
  });
});
