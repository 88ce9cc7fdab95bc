/**
 * TLS: HTTPS and gRPC over TLS on one port (ALPN h2 and http/1.1) with certificates generated in the
 * test; the certificate reloads when its files change, without a restart; `tessera serve` with
 * --tls-cert/--tls-key issues https issuers by default.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { generate } from "selfsigned";
import { TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { createLogger } from "../../src/ops/logger.js";
import { readTlsCredentials, watchTlsCredentials } from "../../src/server/tls.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { bannerOf, eventually } from "./support.js";

const REALM = "ops-tls";
const PROTO_ROOT = fileURLToPath(new URL("../../proto", import.meta.url));
const basic = `Basic ${Buffer.from(`gateway:${SECRETS.gateway}`).toString("base64")}`;

/** A self-signed EC certificate for 127.0.0.1 and localhost; clients trust it as their CA. */
async function certificate(commonName: string): Promise<{ cert: string; key: string }> {
  const generated = await generate([{ name: "commonName", value: commonName }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }] }],
  });
  return { cert: generated.cert, key: generated.private };
}

/** A GET over HTTP/1.1 (node https, no ALPN offered: the server falls back to http/1.1). */
function httpsGet(url: string, ca: string): Promise<{ status: number; httpVersion: string; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, httpVersion: res.httpVersion, body }));
      })
      .on("error", reject);
  });
}

/** The certificate a new TLS connection is served, and the protocol ALPN chose for `offered`. */
function handshake(port: number, ca: string, offered: string[]): Promise<{ subject: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca, ALPNProtocols: offered }, () => {
      const subject = new X509Certificate(socket.getPeerX509Certificate()?.raw ?? Buffer.alloc(0)).subject;
      resolve({ subject, alpn: socket.alpnProtocol ?? false });
      socket.end();
    });
    socket.on("error", reject);
  });
}

describe("TLS on the one port", () => {
  let harness: TesseraHarness;
  let first: { cert: string; key: string };

  before(async () => {
    first = await certificate("tessera-first");
    harness = await startTessera({ tls: first });
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
  });

  after(async () => {
    await harness?.stop();
  });

  it("ALPN then h2 for an HTTP/2 client and http/1.1 for an HTTP/1.1 one, on the same port", async () => {
    assert.equal((await handshake(harness.port, first.cert, ["h2", "http/1.1"])).alpn, "h2");
    assert.equal((await handshake(harness.port, first.cert, ["http/1.1"])).alpn, "http/1.1");
  });

  it("HTTPS over HTTP/1.1 then discovery metadata names https URLs", async () => {
    const answer = await httpsGet(`${harness.baseUrl}/realms/${REALM}/.well-known/openid-configuration`, first.cert);
    assert.equal(answer.status, 200);
    assert.equal(answer.httpVersion, "1.1");
    const metadata = JSON.parse(answer.body) as { issuer: string; token_endpoint: string };
    assert.equal(metadata.issuer, `https://127.0.0.1:${harness.port}/realms/${REALM}`);
    assert.match(metadata.token_endpoint, /^https:\/\//);
  });

  it("HTTPS over HTTP/2 then the token endpoint answers", async () => {
    const session = http2.connect(harness.baseUrl, { ca: first.cert });
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": `/realms/${REALM}/protocol/openid-connect/token`,
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic,
      });
      stream.end("grant_type=client_credentials&scope=orders.read");
      const status = await new Promise<number>((resolve) => stream.on("response", (headers) => resolve(Number(headers[":status"]))));
      let body = "";
      for await (const chunk of stream) body += String(chunk);
      assert.equal(status, 200, body);
      assert.equal((JSON.parse(body) as { token_type: string }).token_type, "Bearer");
      assert.equal(session.alpnProtocol, "h2");
    } finally {
      session.close();
    }
  });

  it("gRPC over TLS with grpc-js credentials.createSsl(ca) then ClientCredentials issues a token", async () => {
    const definition = protoLoader.loadSync("tessera/exchange/v1/token_exchange_service.proto", { includeDirs: [PROTO_ROOT], longs: String });
    type Stub = grpc.Client & {
      ClientCredentials(request: { realm: string; scope: string }, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, answer?: { accessToken: string }) => void): void;
    };
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      tessera: { exchange: { v1: { TokenExchangeService: new (address: string, credentials: grpc.ChannelCredentials) => Stub } } };
    };
    const stub = new loaded.tessera.exchange.v1.TokenExchangeService(`localhost:${harness.port}`, grpc.credentials.createSsl(Buffer.from(first.cert)));
    try {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", basic);
      const answer = await new Promise<{ accessToken: string }>((resolve, reject) =>
        stub.ClientCredentials({ realm: REALM, scope: "orders.read" }, metadata, (error, value) => (error || !value ? reject(error) : resolve(value))),
      );
      assert.match(answer.accessToken, /^eyJ/);
    } finally {
      stub.close();
    }
  });

  it("the certificate files change then new connections get the new certificate, no restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-tls-"));
    const files = { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") };
    const stopWatching = watchTlsCredentials(files, (c) => harness.server.setCredentials(c), createLogger({ level: "silent" }), { intervalMs: 50 });
    try {
      await writeFile(files.certFile, first.cert);
      await writeFile(files.keyFile, first.key);
      await eventually("first certificate read", async () => (await handshake(harness.port, first.cert, ["h2"])).subject.includes("tessera-first"));
      const second = await certificate("tessera-second");
      await writeFile(files.keyFile, second.key); // a half-written pair is skipped, the old one kept
      await writeFile(files.certFile, second.cert);
      await eventually("second certificate served", async () => {
        const served = await handshake(harness.port, second.cert, ["h2"]).catch(() => undefined);
        return served?.subject.includes("tessera-second") ?? false;
      });
      const client = createClient(TokenExchangeService, createGrpcTransport({ baseUrl: harness.baseUrl, nodeOptions: { ca: second.cert } }));
      const answer = await client.clientCredentials({ realm: REALM, scope: "orders.read" }, { headers: { authorization: basic } });
      assert.match(answer.accessToken, /^eyJ/);
    } finally {
      stopWatching();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a certificate that does not match its key then one line naming both files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-tls-"));
    try {
      const other = await certificate("other");
      await writeFile(join(dir, "a.crt"), first.cert);
      await writeFile(join(dir, "b.key"), other.key);
      assert.throws(() => readTlsCredentials({ certFile: join(dir, "a.crt"), keyFile: join(dir, "b.key") }), /a\.crt.*b\.key.*not a usable certificate/);
      assert.throws(() => readTlsCredentials({ certFile: join(dir, "none.crt"), keyFile: join(dir, "b.key") }), /none\.crt: cannot read \(ENOENT\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("tessera serve --tls-cert --tls-key", () => {
  it("serves HTTPS on the port, the banner and the issuers say https", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-tls-cli-"));
    const pair = await certificate("tessera-cli");
    await writeFile(join(dir, "tls.crt"), pair.cert);
    await writeFile(join(dir, "tls.key"), pair.key);
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/tessera.ts", "serve", "--port", "0", "--log-level", "warn", "--tls-cert", join(dir, "tls.crt"), "--tls-key", join(dir, "tls.key")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      await eventually("banner", async () => bannerOf(stdout) !== undefined, 20_000);
      const base = bannerOf(stdout)?.urls.main;
      assert.match(bannerOf(stdout)?.issuers ?? "", /^https:/);
      assert.ok(base, stdout);
      const answer = await httpsGet(`${base}/realms/demo/.well-known/openid-configuration`, pair.cert);
      assert.equal((JSON.parse(answer.body) as { issuer: string }).issuer, `${base}/realms/demo`);
    } finally {
      child.kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(await exited, 0);
  });
});
