/**
 * Connection and request limits (docs/operations.md, "Connection and request limits") against real
 * servers on 127.0.0.1: slow headers and slow bodies cut at their timeouts, connections beyond the
 * per-source limit closed while another address is served, HTTP/2 streams beyond the limit refused,
 * oversized headers refused (HTTP/1.1 and HTTP/2), rapid reset ended, an oversized message on --grpc-port refused, and a
 * normal exchange served while slow and flooding clients attack.
 */
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../../src/server/connection-limits.js";
import { certificateAuthority, localhostCertificate } from "../support/certificates.js";
import { basic, call, loadTokenExchangeClient, type TokenExchangeClient } from "../support/grpc-js-client.js";
import { postForm } from "../support/oauth-client.js";
import { RawH2Connection, requestHeaders } from "../support/raw-h2.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";

const REALM = "limits";
const TOKEN_PATH = `/realms/${REALM}/protocol/openid-connect/token`;
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const REFUSED_STREAM = 0x7;
const LIMITS: ConnectionLimits = {
  ...DEFAULT_CONNECTION_LIMITS,
  headerTimeoutMs: 1000,
  requestTimeoutMs: 1500,
  idleTimeoutMs: 1000,
  maxConnectionsPerSource: 8,
  maxConcurrentStreams: 4,
  maxHeaderBytes: 4096,
};

/** What happened to a connection: what it received and when it closed, ms after it opened. */
interface Outcome {
  received: string;
  closedAfterMs: number;
}

/** Writes `request` one byte every `intervalMs` (a slow-headers client) until the server closes the connection. */
function trickle(socket: net.Socket, request: string, intervalMs: number): Promise<Outcome> {
  const opened = Date.now();
  let received = "";
  let sent = 0;
  const writer = setInterval(() => {
    if (!socket.destroyed) socket.write(request[sent++ % request.length]);
  }, intervalMs);
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  return new Promise((resolve) =>
    socket.once("close", () => {
      clearInterval(writer);
      resolve({ received, closedAfterMs: Date.now() - opened });
    }),
  );
}

/** A request head that never ends (more header lines keep coming). */
const ENDLESS_HEAD = `POST ${TOKEN_PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\n${"x-slow: 1\r\n".repeat(1000)}`;

/** Resolves when `socket` closes, with how long after `since`; what it receives is read (a paused socket never sees the end). */
function closedAfter(socket: net.Socket, since = Date.now()): Promise<number> {
  socket.on("error", () => undefined);
  socket.resume();
  return new Promise((resolve) => socket.once("close", () => resolve(Date.now() - since)));
}

function connect(port: number, localAddress = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** POSTs a form to the token endpoint as gateway, over HTTP/1.1 on its own connection from `localAddress`. */
function postToken(port: number, params: Record<string, string>, localAddress = "127.0.0.1"): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new URLSearchParams(params).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        localAddress,
        method: "POST",
        path: TOKEN_PATH,
        agent: false,
        headers: {
          authorization: `Basic ${Buffer.from(`gateway:${SECRETS.gateway}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
          "content-length": Buffer.byteLength(form),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      },
    );
    req.on("error", reject);
    req.end(form);
  });
}

/** A client-credentials request (see {@link postToken}): the status. */
async function clientCredentials(port: number, localAddress = "127.0.0.1"): Promise<number> {
  return (await postToken(port, { grant_type: "client_credentials", scope: "orders.read" }, localAddress)).status;
}

/** POSTs a form on an HTTP/2 session with `headers` added: the status and the JSON body. */
function h2Post(session: http2.ClientHttp2Session, path: string, params: Record<string, string>, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, ...headers });
    let status = 0;
    let text = "";
    stream.on("response", (head) => (status = Number(head[":status"])));
    stream.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    stream.on("end", () => resolve({ status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    stream.on("error", reject);
    stream.end(new URLSearchParams(params).toString());
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("connection and request limits, main port", () => {
  let harness: TesseraHarness;
  before(async () => {
    harness = await startTessera({ limits: LIMITS, grpcPort: true });
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    assert.equal(await clientCredentials(harness.port), 200, "warm-up: the realm's signing key exists");
  });
  after(() => harness.stop());

  it("HTTP/1.1 headers sent one byte per 200 ms: 408 and closed at about the header timeout", async () => {
    const outcome = await trickle(await connect(harness.port), ENDLESS_HEAD, 200);
    assert.match(outcome.received, /^HTTP\/1\.1 408 /);
    assert.ok(outcome.closedAfterMs >= 900 && outcome.closedAfterMs < 2500, `closed after ${outcome.closedAfterMs} ms`);
  });

  it("a connection that sends nothing, or only the first byte of the HTTP/2 preface, is closed at the header timeout", async () => {
    const silent = closedAfter(await connect(harness.port));
    const preface = await connect(harness.port);
    preface.write("P");
    const [silentMs, prefaceMs] = await Promise.all([silent, closedAfter(preface)]);
    for (const ms of [silentMs, prefaceMs]) assert.ok(ms >= 900 && ms < 2500, `closed after ${ms} ms`);
  });

  it("HTTP/1.1 body that never completes: 408 at the request timeout", async () => {
    const socket = await connect(harness.port);
    const opened = Date.now();
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.write(`POST ${TOKEN_PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type=`);
    const ms = await closedAfter(socket, opened);
    assert.match(received, /^HTTP\/1\.1 408 /);
    assert.ok(ms >= 1400 && ms < 3000, `closed after ${ms} ms`);
  });

  it("an idle keep-alive connection is closed after the idle timeout (plus Node's 1 s buffer)", async () => {
    const socket = await connect(harness.port);
    socket.write(`GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n`);
    const ms = await closedAfter(socket);
    assert.ok(ms >= 900 && ms < 3500, `closed after ${ms} ms`);
  });

  it("connections beyond the per-source limit are closed at once; another source address is still served", async () => {
    const idle = await Promise.all(Array.from({ length: LIMITS.maxConnectionsPerSource }, () => connect(harness.port)));
    try {
      const extra = await connect(harness.port);
      const ms = await closedAfter(extra);
      assert.ok(ms < 500, `the connection beyond the limit closed after ${ms} ms`);
      assert.equal(await clientCredentials(harness.port, "127.0.0.2"), 200, "a client from 127.0.0.2 is served");
    } finally {
      for (const socket of idle) socket.destroy();
    }
    await sleep(100);
    assert.equal(await clientCredentials(harness.port), 200, "once they close, 127.0.0.1 is served again");
  });

  it("HTTP/1.1 headers larger than the limit: 431", async () => {
    const answer = await postForm(`${harness.baseUrl}${TOKEN_PATH}`, { grant_type: "client_credentials" }, { headers: { "x-big": "a".repeat(8000) } });
    assert.equal(answer.status, 431);
  });

  it("h2c: streams beyond the concurrent limit are refused with REFUSED_STREAM; those within are served", async () => {
    const h2 = await RawH2Connection.open(harness.port);
    try {
      const ids = Array.from({ length: 10 }, () => h2.headers(requestHeaders(TOKEN_PATH)));
      await sleep(300);
      const refused = ids.filter((id) => h2.resets().get(id) === REFUSED_STREAM);
      assert.deepEqual(refused, ids.slice(LIMITS.maxConcurrentStreams), "the 5th stream on is refused");
    } finally {
      h2.close();
    }
  });

  it("h2c: a header list larger than the limit (name + value + 32 per field) gets 431 invalid_request; one just within is served", async () => {
    const session = http2.connect(harness.baseUrl);
    try {
      const post = (extra: Record<string, string>) => h2Post(session, TOKEN_PATH, { grant_type: "client_credentials", scope: "orders.read" }, extra);
      const fixed = { ":method": "POST", ":path": TOKEN_PATH, ":authority": `127.0.0.1:${harness.port}`, ":scheme": "http" };
      const form = { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`gateway:${SECRETS.gateway}`).toString("base64")}` };
      const used = Object.entries({ ...fixed, ...form }).reduce((n, [name, value]) => n + name.length + value.length + 32, 0);
      const room = LIMITS.maxHeaderBytes - used - "x-pad".length - 32;
      const over = await post({ ...form, "x-pad": "a".repeat(room + 1) });
      assert.equal(over.status, 431);
      assert.deepEqual(over.body, { error: "invalid_request", error_description: "request header fields too large" });
      const within = await post({ ...form, "x-pad": "a".repeat(room) });
      assert.equal(within.status, 200, JSON.stringify(within.body));
    } finally {
      session.close();
    }
  });

  it("h2c: a request that never ends is answered 408 at the request timeout; an idle session gets a GOAWAY", async () => {
    const h2 = await RawH2Connection.open(harness.port);
    const opened = Date.now();
    const id = h2.headers(requestHeaders(TOKEN_PATH));
    await h2.closed;
    const ms = Date.now() - opened;
    assert.ok(h2.answered().includes(id), "the stream got response headers (408)");
    assert.notEqual(h2.goAwayCode(), undefined, "then the idle session a GOAWAY");
    assert.ok(ms >= 1400 && ms < 4500, `closed after ${ms} ms`);
  });

  it("h2c rapid reset (streams opened and cancelled in a loop): Node ends the session with a GOAWAY", async () => {
    const h2 = await RawH2Connection.open(harness.port);
    for (let i = 0; i < 5000 && !h2.socket.destroyed; i++) {
      h2.reset(h2.headers(requestHeaders(TOKEN_PATH)));
      if (i % 250 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.race([h2.closed, sleep(3000)]);
    assert.notEqual(h2.goAwayCode(), undefined, "a GOAWAY");
    assert.ok(h2.socket.destroyed, "and the connection closed");
    assert.equal(await clientCredentials(harness.port), 200, "others are served");
  });

  it("--grpc-port: a message larger than 64 KiB gets RESOURCE_EXHAUSTED; connections beyond the per-source limit are closed", async () => {
    const client = new (loadTokenExchangeClient())(harness.grpcAddress ?? "", grpc.credentials.createInsecure());
    try {
      const big = { realm: REALM, subjectToken: "a".repeat(70 * 1024), subjectTokenType: ACCESS_TOKEN_TYPE };
      const { error } = await call(client.ExchangeToken, client as TokenExchangeClient, big, basic("gateway", SECRETS.gateway));
      assert.equal(error?.code, grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
    }
    const port = Number(harness.grpcAddress?.split(":")[1]);
    const idle = await Promise.all(Array.from({ length: LIMITS.maxConnectionsPerSource }, () => connect(port)));
    try {
      const ms = await closedAfter(await connect(port));
      assert.ok(ms < 500, `the connection beyond the limit closed after ${ms} ms`);
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });
});

describe("connection and request limits, TLS", () => {
  let harness: TesseraHarness;
  before(async () => {
    const ca = await certificateAuthority("limits test CA");
    harness = await startTessera({ limits: LIMITS, tls: await localhostCertificate(ca) });
  });
  after(() => harness.stop());

  it("HTTP/1.1 over TLS, headers one byte per 200 ms: 408 and closed at about the header timeout", async () => {
    const socket = await new Promise<tls.TLSSocket>((resolve) => {
      const s = tls.connect({ port: harness.port, host: "127.0.0.1", rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => resolve(s));
    });
    const outcome = await trickle(socket, ENDLESS_HEAD, 200);
    assert.match(outcome.received, /^HTTP\/1\.1 408 /);
    assert.ok(outcome.closedAfterMs >= 900 && outcome.closedAfterMs < 2500, `closed after ${outcome.closedAfterMs} ms`);
  });

  it("a TCP connection that never starts the TLS handshake is closed at the header timeout", async () => {
    const ms = await closedAfter(await connect(harness.port));
    assert.ok(ms >= 900 && ms < 2500, `closed after ${ms} ms`);
  });

  it("h2 over TLS: streams beyond the concurrent limit are refused", async () => {
    const session = http2.connect(harness.baseUrl, { rejectUnauthorized: false });
    try {
      await new Promise((resolve) => session.once("remoteSettings", resolve));
      assert.equal(session.remoteSettings.maxConcurrentStreams, LIMITS.maxConcurrentStreams);
      assert.equal(session.remoteSettings.maxHeaderListSize, LIMITS.maxHeaderBytes);
    } finally {
      session.close();
    }
  });
});

describe("a slow or flooding client does not stop others", () => {
  let harness: TesseraHarness;
  before(async () => {
    harness = await startTessera({ limits: { ...LIMITS, headerTimeoutMs: 5000, requestTimeoutMs: 5000, idleTimeoutMs: 5000, maxConnectionsPerSource: 64 } });
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
  });
  after(() => harness.stop());

  it("while slow-header and idle clients (127.0.0.1) and stream floods (127.0.0.3) attack, token exchanges from 127.0.0.2 succeed", async () => {
    const attackers: net.Socket[] = [];
    const flooders: RawH2Connection[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const socket = await connect(harness.port);
        attackers.push(socket);
        void trickle(socket, ENDLESS_HEAD, 100);
      }
      // Idle sockets up to the per-source limit; the rest are closed at once.
      for (let i = 0; i < 40; i++) attackers.push(await connect(harness.port));
      for (let i = 0; i < 3; i++) {
        const h2 = await RawH2Connection.open(harness.port, "127.0.0.3");
        flooders.push(h2);
        for (let s = 0; s < 50; s++) h2.headers(requestHeaders(TOKEN_PATH));
      }
      for (let i = 0; i < 5; i++) {
        const cc = await postToken(harness.port, { grant_type: "client_credentials", scope: "orders.read" }, "127.0.0.2");
        assert.equal(cc.status, 200, JSON.stringify(cc.body));
        const exchange = { grant_type: TOKEN_EXCHANGE, subject_token: String(cc.body.access_token), subject_token_type: ACCESS_TOKEN_TYPE, audience: "orders-api" };
        const exchanged = await postToken(harness.port, exchange, "127.0.0.2");
        assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
        assert.equal(exchanged.body.issued_token_type, ACCESS_TOKEN_TYPE);
      }
    } finally {
      for (const socket of attackers) socket.destroy();
      for (const h2 of flooders) h2.close();
    }
  });
});
