/**
 * The transport baselines: servers whose methods do nothing, run as their own process so the
 * benchmark reads their CPU and memory from /proc exactly as it reads Tessera's.
 *
 *   node --import tsx bench/noop-servers.ts connect PORT   # Tessera's stack: listen() + connectNodeAdapter
 *   node --import tsx bench/noop-servers.ts grpc-js PORT   # a plain @grpc/grpc-js server
 *
 * Both serve `tessera.exchange.v1.TokenExchangeService/ExchangeToken` and `ClientCredentials`
 * answering an empty response at once; the `connect` one also answers any other POST (the OAuth
 * form path) with `{}` after reading the body. Prints `listening PORT` when ready; SIGTERM stops.
 */
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Server, ServerCredentials, loadPackageDefinition, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import {
  ClientCredentialsResponseSchema,
  ExchangeTokenResponseSchema,
  TokenExchangeService,
} from "../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { listen, type DualHandler } from "../src/server/listen.js";

/** Largest accepted message, as in Tessera (src/app.ts). */
const MAX_MESSAGE_BYTES = 64 * 1024;

/** The proto directory, for @grpc/proto-loader. */
export const PROTO_DIR = fileURLToPath(new URL("../proto/", import.meta.url));

/** Serves no-op methods with Tessera's server stack; resolves to a stop function. */
export async function startConnectNoop(port: number): Promise<() => Promise<void>> {
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(TokenExchangeService, {
        exchangeToken: () => create(ExchangeTokenResponseSchema),
        clientCredentials: () => create(ClientCredentialsResponseSchema),
      });
    },
    readMaxBytes: MAX_MESSAGE_BYTES,
    fallback: (req, res) => {
      // The no-op form POST: read the whole body, as the token endpoint does, then answer.
      req.on("data", () => {});
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        res.end("{}");
      });
    },
  });
  const server = await listen(handler as DualHandler, "127.0.0.1", port);
  return () => server.close(1000);
}

/** Serves the same no-op methods with a plain @grpc/grpc-js server; resolves to a stop function. */
export async function startGrpcJsNoop(port: number): Promise<() => Promise<void>> {
  const definition = loadSync("tessera/exchange/v1/token_exchange_service.proto", { includeDirs: [PROTO_DIR], keepCase: true });
  const loaded = loadPackageDefinition(definition) as unknown as {
    tessera: { exchange: { v1: { TokenExchangeService: { service: ServiceDefinition } } } };
  };
  const server = new Server();
  const empty = (_call: unknown, callback: (error: null, response: object) => void) => callback(null, {});
  const implementation: UntypedServiceImplementation = { ExchangeToken: empty, ClientCredentials: empty };
  server.addService(loaded.tessera.exchange.v1.TokenExchangeService.service, implementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [kind, portText] = process.argv.slice(2);
  const port = Number(portText);
  if ((kind !== "connect" && kind !== "grpc-js") || !Number.isInteger(port)) {
    process.stderr.write("usage: noop-servers.ts connect|grpc-js PORT\n");
    process.exit(2);
  }
  const stop = await (kind === "connect" ? startConnectNoop(port) : startGrpcJsNoop(port));
  process.stdout.write(`listening ${port}\n`);
  process.once("SIGTERM", () => void stop().then(() => process.exit(0)));
  process.once("SIGINT", () => void stop().then(() => process.exit(0)));
}
