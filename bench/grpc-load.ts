/**
 * A closed-loop gRPC load generator on @grpc/grpc-js, run as its own process by the benchmark:
 * `concurrency` calls in flight on one channel (one HTTP/2 connection), each started as the
 * previous one ends, for a warm-up then a measured window. Bounded in time and in count.
 *
 *   node --import tsx bench/grpc-load.ts '<GrpcLoadOptions as JSON>'
 *
 * Prints `measuring` when the measured window starts, then one line of {@link LoadResult} JSON.
 */
import { Metadata, credentials, loadPackageDefinition, type Client, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import { percentile, type LoadResult } from "./stats.js";

/** What {@link runGrpcLoad} sends. */
export interface GrpcLoadOptions {
  /** host:port. */
  address: string;
  /** A method of `tessera.exchange.v1.TokenExchangeService`, e.g. `ExchangeToken`. */
  method: string;
  /** The request, with the proto's field names. */
  request: Record<string, unknown>;
  /** Metadata, e.g. `{ authorization: "Basic ..." }`. */
  metadata: Record<string, string>;
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Stop after this many measured calls even if the window is not over. */
  maxCalls?: number;
}

type Unary = (request: object, metadata: Metadata, done: (error: ServiceError | null) => void) => void;

/** Runs the load; `onMeasuring` is called when the measured window starts. */
export async function runGrpcLoad(options: GrpcLoadOptions, onMeasuring: () => void = () => {}): Promise<LoadResult> {
  const protoDir = fileURLToPath(new URL("../proto/", import.meta.url));
  const definition = loadSync("tessera/exchange/v1/token_exchange_service.proto", { includeDirs: [protoDir], keepCase: true, longs: Number });
  const { TokenExchangeService } = (loadPackageDefinition(definition) as unknown as {
    tessera: { exchange: { v1: { TokenExchangeService: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client } } };
  }).tessera.exchange.v1;
  const client = new TokenExchangeService(options.address, credentials.createInsecure()) as Client & Record<string, Unary>;
  const call = client[options.method].bind(client);
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(options.metadata)) metadata.set(key, value);
  const maxCalls = options.maxCalls ?? 5_000_000;

  const latenciesUs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let measuring = false;
  const once = () =>
    new Promise<void>((resolve) => {
      const start = process.hrtime.bigint();
      call(options.request, metadata, (error) => {
        if (error) {
          errors += measuring ? 1 : 0;
          firstError ??= `${error.code} ${error.details}`;
        } else if (measuring) latenciesUs.push(Number(process.hrtime.bigint() - start) / 1000);
        resolve();
      });
    });
  const loop = async (until: () => boolean) => {
    while (!until()) await once();
  };

  const warmupEnd = Date.now() + options.warmupSeconds * 1000;
  await Promise.all(Array.from({ length: options.concurrency }, () => loop(() => Date.now() >= warmupEnd)));
  measuring = true;
  onMeasuring();
  const started = process.hrtime.bigint();
  const end = Date.now() + options.durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: options.concurrency }, () => loop(() => Date.now() >= end || latenciesUs.length + errors >= maxCalls)),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  client.close();
  latenciesUs.sort((a, b) => a - b);
  return {
    requests: latenciesUs.length,
    errors,
    seconds,
    p50Ms: percentile(latenciesUs, 0.5) / 1000,
    p99Ms: percentile(latenciesUs, 0.99) / 1000,
    ...(firstError !== undefined && { firstError }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const options = JSON.parse(process.argv[2] ?? "{}") as GrpcLoadOptions;
  const result = await runGrpcLoad(options, () => process.stdout.write("measuring\n"));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
