import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { createTessera, type Tessera } from "../../src/server/tessera.js";
import type { Clock } from "../../src/domain/index.js";
import type { AuthThrottleSettings } from "../../src/exchange/auth-throttle.js";
import { createLogger } from "../../src/ops/logger.js";
import { requestLogFields } from "../../src/ops/request-context.js";
import type { OperationsOptions } from "../../src/ops/operations.js";
import { listenGrpc, type GrpcListeningServer } from "../../src/grpc-port/grpc-js-server.js";
import { listen, type DualHandler, type ListeningServer, type TlsCredentials } from "../../src/server/listen.js";
import type { ConnectionLimits } from "../../src/server/connection-limits.js";
import { MemoryRealmRepository } from "../../src/storage/memory/memory-realm-repository.js";
import type { RealmRepository } from "../../src/storage/realm-repository.js";
import { createAdminCaller, type AdminCaller } from "./admin-client.js";

/** A Tessera serving on a real 127.0.0.1 port, for tests. */
export interface TesseraHarness {
  /** `http://127.0.0.1:{port}` */
  baseUrl: string;
  port: number;
  repository: RealmRepository;
  tessera: Tessera;
  server: ListeningServer;
  /** The `--grpc-port` server, with {@link HarnessOptions.grpcPort}. */
  grpcServer: GrpcListeningServer | undefined;
  /** `127.0.0.1:{grpc port}`, the address a grpc-js client takes, with {@link HarnessOptions.grpcPort}. */
  grpcAddress: string | undefined;
  /** Every log line written so far. */
  logs(): string[];
  tokenUrl(realm: string): string;
  issuer(realm: string): string;
  /**
   * Creates an admin client in the master realm whose tokens carry `scopes` (default `admin`) and
   * returns an authenticated AdminService client, transports and headers (see {@link createAdminCaller}).
   */
  adminCaller(scopes?: string[]): Promise<AdminCaller>;
  stop(): Promise<void>;
}

/** Options of {@link startTessera}. */
export interface HarnessOptions {
  /** Defaults to a fresh memory repository. */
  repository?: RealmRepository;
  clock?: Clock;
  masterKey?: Uint8Array;
  /**
   * Issuer base shared with another instance (instances behind one load balancer share it);
   * defaults to this instance's own URL.
   */
  publicUrl?: string;
  /** Configuration cache lifetime of this instance (see createTessera); 0 sees other instances' writes at once. */
  configurationCacheTtlMs?: number;
  /** Serve HTTPS and gRPC over TLS with this certificate; `baseUrl` is then https. */
  tls?: TlsCredentials;
  /** Health, metrics and CORS options. */
  operations?: OperationsOptions;
  /** Also serve the `--grpc-port` (gRPC through @grpc/grpc-js) on a free port, with the same TLS. */
  grpcPort?: boolean;
  /** Throttling of failed authentication (`--auth-throttle*`); defaults as `tessera serve`'s, `{ enabled: false }` turns it off. */
  authThrottle?: Partial<AuthThrottleSettings>;
  /** Connection and request limits of both ports; `tessera serve`'s defaults without. */
  limits?: ConnectionLimits;
}

/** Starts the real server (the same composition as `tessera serve`) on a free port. */
export async function startTessera(options: HarnessOptions = {}): Promise<TesseraHarness> {
  const repository = options.repository ?? new MemoryRealmRepository();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  // Lines written while a request is served carry its id, as in `tessera serve`.
  const log = createLogger({ destination: sink, mixin: requestLogFields });
  // The issuer depends on the port: bind first, then build Tessera with the URL and route to it.
  let handler: DualHandler | undefined;
  const server = await listen((req, res) => handler?.(req, res), "127.0.0.1", 0, options.tls, options.limits);
  const port = server.address.port;
  const ownUrl = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const publicUrl = options.publicUrl ?? ownUrl;
  const tessera = createTessera({ repository, publicUrl, masterKey: options.masterKey ?? randomBytes(32), log, clock: options.clock, operations: options.operations, mutualTls: options.tls?.ca !== undefined, configurationCacheTtlMs: options.configurationCacheTtlMs, authThrottle: options.authThrottle });
  handler = tessera.handler;
  const grpcServer = options.grpcPort ? await listenGrpc({ tessera, log, host: "127.0.0.1", port: 0, tls: options.tls, limits: options.limits }) : undefined;
  return {
    baseUrl: ownUrl,
    port,
    // Through Tessera's own view of storage, so a test's writes are seen at once as an admin's would be.
    repository: tessera.repository,
    tessera,
    server,
    grpcServer,
    grpcAddress: grpcServer && `127.0.0.1:${grpcServer.port}`,
    logs: () => [...lines],
    tokenUrl: (realm) => `${ownUrl}/realms/${realm}/protocol/openid-connect/token`,
    issuer: (realm) => `${publicUrl}/realms/${realm}`,
    adminCaller: (scopes) => createAdminCaller({ baseUrl: ownUrl, repository }, scopes),
    stop: async () => {
      await Promise.all([server.close(1000), grpcServer?.close(1000)]);
      await tessera.close();
    },
  };
}
