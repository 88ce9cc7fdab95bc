/**
 * Graceful shutdown of `tessera serve` as a process: SIGTERM during load loses no request already
 * received (HTTP/1.1 and HTTP/2), then refuses new connections and exits 0; a stuck request is cut at
 * --shutdown-grace; a second signal exits at once.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { bannerOf, eventually } from "./support.js";

const BASIC = `Basic ${Buffer.from("gateway:gateway-secret").toString("base64")}`;
const FORM = "grant_type=client_credentials&scope=orders.read";

interface Served {
  child: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; at: number }>;
}

/** Starts `tessera serve` on the demo realm and resolves once it listens. */
async function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/tessera.ts", "serve", "--port", "0", "--log-level", "warn", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on("exit", (code) => resolve({ code, at: Date.now() })));
  await eventually("listening", async () => bannerOf(stdout) !== undefined, 20_000);
  return { child, port: Number(new URL(bannerOf(stdout)?.urls.main ?? "").port), exited };
}

/** A token request on a connection of its own (no keep-alive reuse). */
function postToken(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/realms/demo/protocol/openid-connect/token",
        agent: false,
        headers: { authorization: BASIC, "content-type": "application/x-www-form-urlencoded", "content-length": FORM.length },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(FORM);
  });
}

/** Opens a connection and sends a request whose body never completes: it stays in flight. */
function stuckRequest(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(`POST /realms/demo/protocol/openid-connect/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type=`);
      setTimeout(() => resolve(socket), 200);
    });
    socket.on("error", () => undefined);
    socket.once("error", reject);
  });
}

describe("tessera serve graceful shutdown", () => {
  it("SIGTERM during load then every request already sent gets 200, a later one is served or refused, exit 0", async () => {
    const { child, port, exited } = await serve(["--shutdown-grace", "20s"]);
    const baseUrl = `http://127.0.0.1:${port}`;
    const sessionManager = new Http2SessionManager(baseUrl);
    const grpc = createClient(TokenExchangeService, createGrpcTransport({ baseUrl, sessionManager }));
    try {
      // Warm up (first-use key creation), then load: each request verifies an Argon2id secret.
      assert.equal(await postToken(port), 200);
      await grpc.clientCredentials({ realm: "demo", scope: "orders.read" }, { headers: { authorization: BASIC } });
      // SIGTERM at the 10th answer of the load: the server has been accepting connections for a
      // while (none is left in the kernel's accept queue, which closing a listener resets), and
      // most requests are still in flight.
      let answered = 0;
      let inFlightAtSignal = 0;
      const count = <T>(promise: Promise<T>) =>
        promise.finally(() => {
          if (++answered === 10) {
            child.kill("SIGTERM");
            inFlightAtSignal = 80 - answered;
          }
        });
      const http1 = Array.from({ length: 40 }, () => count(postToken(port)));
      const http2 = Array.from({ length: 40 }, () =>
        count(grpc.clientCredentials({ realm: "demo", scope: "orders.read" }, { headers: { authorization: BASIC } })),
      );
      const results = await Promise.allSettled([...http1, ...http2]);
      const failures = results.filter((r) => r.status === "rejected" || (typeof r.value === "number" && r.value !== 200));
      assert.equal(failures.length, 0, `failed: ${JSON.stringify(failures.slice(0, 3))}`);
      assert.ok(inFlightAtSignal >= 20, `only ${inFlightAtSignal} requests were in flight at SIGTERM: the test proves little`);
      // A connection that arrives while stopping is served (the accept queue is drained) or refused; never cut.
      const late = await postToken(port).catch((error: NodeJS.ErrnoException) => error.code);
      assert.ok(late === 200 || late === "ECONNREFUSED", `late request: ${late}`);
      assert.equal((await exited).code, 0);
      await assert.rejects(postToken(port), /ECONNREFUSED/, "no listener once stopped");
    } finally {
      sessionManager.abort();
      child.kill("SIGKILL");
    }
  });

  it("a request stuck past --shutdown-grace then its connection is closed at the deadline and the exit is 0", async () => {
    const { child, port, exited } = await serve(["--shutdown-grace", "1s"]);
    try {
      const socket = await stuckRequest(port);
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      const signalled = Date.now();
      child.kill("SIGTERM");
      const { code, at } = await exited;
      await closed;
      assert.equal(code, 0);
      assert.ok(at - signalled >= 900, `waited for the grace period (${at - signalled} ms)`);
      assert.ok(at - signalled < 5000, `did not wait much longer (${at - signalled} ms)`);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a second signal while draining then the process exits at once", async () => {
    const { child, port, exited } = await serve(["--shutdown-grace", "60s"]);
    try {
      await stuckRequest(port);
      child.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 300));
      const signalled = Date.now();
      child.kill("SIGTERM");
      const { code, at } = await exited;
      assert.notEqual(code, 0);
      assert.ok(at - signalled < 2000, `exited ${at - signalled} ms after the second signal`);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
