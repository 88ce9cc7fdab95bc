/**
 * What @tessera/client's cache saves: the cost of a cache hit and of a cache miss, each as a ratio to a plain
 * exchange call (connectExchange, no TokenExchanger) to the same Tessera in the same run.
 * `npm run bench:client [-- --calls N]` (default 300 calls per kind; hits are measured over 100 times as many).
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { connectExchange, TokenExchanger, type ExchangeCall, type ExchangeParams } from "../packages/client/src/index.js";
import { percentile } from "./stats.js";
import { killAll, startTessera } from "./servers.js";

const { values } = parseArgs({ options: { calls: { type: "string", default: "300" } } });
const calls = Number(values.calls);

/** Microseconds per call of `run`, `n` times in sequence: mean and p50, p99. */
async function measure(n: number, run: () => Promise<unknown>): Promise<{ mean: number; p50: number; p99: number }> {
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await run();
    samples[i] = (performance.now() - start) * 1000;
  }
  const sorted = Float64Array.from(samples).sort();
  return { mean: samples.reduce((a, b) => a + b, 0) / n, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

const tessera = await startTessera({ label: "tessera", storage: { kind: "memory" }, files: ["examples/demo-realm.yaml"] });
const session = new Http2SessionManager(tessera.base);
try {
  const auth = { clientId: "gateway", clientSecret: "gateway-secret" };
  const plain: ExchangeCall = connectExchange({ transport: createGrpcTransport({ baseUrl: tessera.base, sessionManager: session }), realm: "demo", auth });
  const own = await fetch(`${tessera.base}/realms/demo/protocol/openid-connect/token`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from("gateway:gateway-secret").toString("base64")}` },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "orders.read" }),
  }).then((response) => response.json() as Promise<{ access_token: string }>);
  const params: ExchangeParams = { subjectToken: own.access_token, audience: ["orders-api"] };
  // A miss every time: no token lives longer than this margin, so nothing is cached.
  const missing = new TokenExchanger({ call: plain, expiryMarginSeconds: 1e9 });
  const caching = new TokenExchanger({ call: plain });

  await measure(Math.min(calls, 100), () => plain(params)); // warm-up
  const plainCall = await measure(calls, () => plain(params));
  const miss = await measure(calls, () => missing.exchange(params));
  await caching.exchange(params);
  const hit = await measure(calls * 100, () => caching.exchange(params));

  const row = (name: string, m: { mean: number; p50: number; p99: number }) =>
    `| ${name} | ${m.mean.toFixed(1)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${(m.mean / plainCall.mean).toFixed(4)} |`;
  console.log(`@tessera/client, ${calls} sequential calls per kind (hits: ${calls * 100}), gRPC to a local Tessera\n`);
  console.log("| kind | mean µs | p50 µs | p99 µs | mean / plain call |\n|---|---|---|---|---|");
  console.log([row("plain call (connectExchange)", plainCall), row("TokenExchanger, cache miss", miss), row("TokenExchanger, cache hit", hit)].join("\n"));
} finally {
  session.abort();
  await tessera.stop();
  killAll();
}
