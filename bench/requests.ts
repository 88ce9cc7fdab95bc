/** The requests the benchmark sends, per operation and protocol, and a one-call check of each. */
import { create, toBinary } from "@bufbuild/protobuf";
import http2 from "node:http2";
import {
  ClientCredentialsRequestSchema,
  ExchangeTokenRequestSchema,
} from "../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import type { RequestSpec } from "./generators.js";
import { BENCH_REALM, GATEWAY_BASIC } from "./realm.js";

/**
 * How a request reaches the server: gRPC on the main port (served by Connect-node), gRPC on
 * Tessera's `--grpc-port` (served by @grpc/grpc-js; the same request), Connect, the OAuth form.
 */
export type Protocol = "grpc" | "grpc-port" | "connect" | "form";

/** What is asked. */
export type Operation = "exchange" | "client_credentials" | "health";

const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const SERVICE = "/tessera.exchange.v1.TokenExchangeService";
const TOKEN_PATH = `/realms/${BENCH_REALM}/protocol/openid-connect/token`;

/** A gRPC message: 1 byte flags (0: not compressed), 4 bytes big-endian length, the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * The request of `operation` over `protocol` to `base`: the gateway (client_secret_basic)
 * exchanging `subjectToken` for `audience=orders-api`, or asking for `scope=orders.read` by
 * client credentials, or the gRPC health check.
 */
export function requestSpec(operation: Operation, protocol: Protocol, base: string, subjectToken = ""): Omit<RequestSpec, "minResponseBytes"> {
  const grpcHeaders = { "content-type": "application/grpc", te: "trailers" };
  if (operation === "health") {
    if (protocol !== "grpc") throw new Error("the health check is measured over gRPC only");
    return { base, path: "/grpc.health.v1.Health/Check", http: "h2", body: grpcFrame(new Uint8Array()), headers: grpcHeaders };
  }
  const exchange = operation === "exchange";
  const auth = { authorization: GATEWAY_BASIC };
  if (protocol === "form") {
    const form: Record<string, string> = exchange
      ? { grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, audience: "orders-api" }
      : { grant_type: "client_credentials", scope: "orders.read" };
    return { base, path: TOKEN_PATH, http: "h1", body: Buffer.from(new URLSearchParams(form).toString()), headers: { "content-type": "application/x-www-form-urlencoded", ...auth } };
  }
  const method = exchange ? "ExchangeToken" : "ClientCredentials";
  const fields = exchange
    ? { realm: BENCH_REALM, subjectToken, subjectTokenType: ACCESS_TOKEN_TYPE, audience: ["orders-api"] }
    : { realm: BENCH_REALM, scope: "orders.read" };
  if (protocol === "connect") {
    // Connect unary with JSON over HTTP/1.1: what a browser, curl or a Connect web client sends.
    return { base, path: `${SERVICE}/${method}`, http: "h1", body: Buffer.from(JSON.stringify(fields)), headers: { "content-type": "application/json", "connect-protocol-version": "1", ...auth } };
  }
  const message = exchange
    ? toBinary(ExchangeTokenRequestSchema, create(ExchangeTokenRequestSchema, { realm: BENCH_REALM, subjectToken, subjectTokenType: ACCESS_TOKEN_TYPE, audience: ["orders-api"] }))
    : toBinary(ClientCredentialsRequestSchema, create(ClientCredentialsRequestSchema, { realm: BENCH_REALM, scope: "orders.read" }));
  const request = exchange
    ? { realm: BENCH_REALM, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, audience: ["orders-api"] }
    : { realm: BENCH_REALM, scope: "orders.read" };
  return { base, path: `${SERVICE}/${method}`, http: "h2", body: grpcFrame(message), headers: { ...grpcHeaders, ...auth }, grpc: { method, request } };
}

/** What one check call got. */
export interface ProbeResult {
  ok: boolean;
  /** Response body bytes (a gRPC body includes its 5-byte frame header). */
  bodyBytes: number;
  detail: string;
}

/** Sends `spec` once and says whether it succeeded (HTTP 200, and `grpc-status: 0` for gRPC). */
export async function probe(spec: Omit<RequestSpec, "minResponseBytes">): Promise<ProbeResult> {
  if (spec.http === "h1") {
    const response = await fetch(`${spec.base}${spec.path}`, { method: "POST", headers: spec.headers, body: new Uint8Array(spec.body), signal: AbortSignal.timeout(10_000) });
    const body = Buffer.from(await response.arrayBuffer());
    return { ok: response.status === 200, bodyBytes: body.length, detail: `HTTP ${response.status} ${body.toString("utf8").slice(0, 300)}` };
  }
  const session = http2.connect(spec.base);
  try {
    return await new Promise<ProbeResult>((resolve, reject) => {
      session.once("error", reject);
      const stream = session.request({ ":method": "POST", ":path": spec.path, ...spec.headers });
      const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 10_000);
      let status = 0;
      let grpcStatus: string | undefined;
      let grpcMessage = "";
      const chunks: Buffer[] = [];
      const read = (headers: http2.IncomingHttpHeaders) => {
        if (headers["grpc-status"] !== undefined) grpcStatus = String(headers["grpc-status"]);
        if (headers["grpc-message"] !== undefined) grpcMessage = decodeURIComponent(String(headers["grpc-message"]));
      };
      stream.on("response", (headers) => {
        status = Number(headers[":status"]);
        read(headers);
      });
      stream.on("trailers", read);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.once("error", reject);
      stream.on("close", () => {
        clearTimeout(timer);
        const bodyBytes = chunks.reduce((n, c) => n + c.length, 0);
        resolve({ ok: status === 200 && grpcStatus === "0", bodyBytes, detail: `HTTP ${status}, grpc-status ${grpcStatus ?? "none"} ${grpcMessage}`.trim() });
      });
      stream.end(spec.body);
    });
  } finally {
    session.close();
  }
}

/** A fresh access token of the gateway (client credentials, scope orders.read) from the form endpoint: the subject token. */
export async function gatewayToken(base: string): Promise<string> {
  const response = await fetch(`${base}${TOKEN_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: GATEWAY_BASIC },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "orders.read" }).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
  if (!response.ok || !body.access_token) throw new Error(`client credentials failed: HTTP ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
