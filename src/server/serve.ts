import cluster from "node:cluster";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { errors as joseErrors } from "jose";
import { fileURLToPath } from "node:url";
import { createTessera, type Tessera } from "./tessera.js";
import { MasterKeyCipher } from "../crypto/master-key-cipher.js";
import { ConfigError, SERVE_USAGE, parseServeConfig, type ServeSettings, type TlsFiles } from "../config/serve-config.js";
import { requestLogFields } from "../ops/request-context.js";
import { createLogger, resolveLogFormat, type Logger } from "../ops/logger.js";
import { startTracing, type Tracing } from "../ops/tracing.js";
import { announceListening, type ListeningFacts } from "./banner.js";
import { bootstrapAdmin, type BootstrapOutcome } from "../admin/bootstrap.js";
import { storeRealmLinks } from "../admin/realm-transfer.js";
import { RealmFileError, parseRealmFile } from "../realm-file/index.js";
import { renderEffectiveConfig } from "../config/print-config.js";
import { listen, type DualHandler, type ListeningServer, type TlsCredentials } from "./listen.js";
import { listenGrpc, type GrpcListeningServer } from "../grpc-port/grpc-js-server.js";
import { MemoryRealmRepository } from "../storage/memory/memory-realm-repository.js";
import { MongoRealmRepository } from "../storage/mongo/mongo-realm-repository.js";
import { TlsFileError, readTlsCredentials, watchTlsCredentials } from "./tls.js";
import { RealmKeyStore } from "../tokens/realm-keys.js";
import { systemClock } from "../domain/index.js";
import {
  WorkerStartError,
  reportListening,
  shareMetricsWithPrimary,
  startWorkers,
  workersMetricsText,
  type WorkerListening,
  type WorkerPool,
} from "./workers.js";
import {
  StorageConflictError,
  StorageUnavailableError,
  type RealmBundle,
  type RealmRepository,
} from "../storage/realm-repository.js";

/** The realm `npm start` loads when no `--import` is given (memory storage only): from src/ or dist/src/. */
export const DEMO_REALM_FILE = ["../../examples/demo-realm.yaml", "../../../examples/demo-realm.yaml"]
  .map((relative) => fileURLToPath(new URL(relative, import.meta.url)))
  .find((path) => existsSync(path)) ?? "examples/demo-realm.yaml";

/** A running Tessera: its address and how to stop it. */
export interface RunningTessera {
  server: ListeningServer;
  /** The `--grpc-port` server (gRPC through @grpc/grpc-js), when asked for. */
  grpcServer: GrpcListeningServer | undefined;
  /** Base of the issuers, with the real port. */
  publicUrl: string;
  repository: RealmRepository;
  /** What the first-start admin bootstrap did (a generated secret is shown once, by the banner); undefined in a `--workers` worker. */
  bootstrap: BootstrapOutcome | undefined;
  /** Graceful stop: finish in-flight requests, close storage. */
  stop(): Promise<void>;
}

/** A start-up failure that deserves one line and a non-zero exit, not a stack trace. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** How {@link serve} starts. */
export interface ServeOptions {
  /**
   * A `--workers` worker: the primary has prepared storage (realm imports, admin bootstrap) already,
   * and `/metrics` answers with the sum over every worker.
   */
  worker?: boolean;
}

/** The realm files to import, parsed: `--import`, else the demo realm with memory storage. */
interface RealmFiles {
  files: string[];
  bundles: RealmBundle[];
}

/**
 * The composition root of `tessera serve`: config -> storage -> realm imports -> services ->
 * one server -> listen. Throws {@link ConfigError}, {@link RealmFileError} or {@link StartupError}.
 */
export async function serve(settings: ServeSettings, log: Logger, options: ServeOptions = {}): Promise<RunningTessera> {
  const masterKey = settings.masterKey ?? ephemeralMasterKey(settings);
  const cipher = new MasterKeyCipher(masterKey);
  const worker = options.worker === true;
  const realmFiles = worker ? undefined : await readRealmFiles(settings, cipher);
  if (!settings.masterKey) {
    log.warn("TESSERA_MASTER_KEY not set: using an ephemeral key; fine for memory storage, which forgets everything on exit");
  }
  const credentials = settings.tls && tlsCredentialsOf(settings.tls);
  const repository = await openRepository(settings);
  try {
    const bootstrap = realmFiles && (await prepareStorage(repository, realmFiles, settings, cipher, log));
    // Bind first: with --port 0 the issuer can only name the real port once it is known.
    let handler: DualHandler | undefined;
    const server = await listen((req, res) => handler?.(req, res), settings.host, settings.port, credentials, settings.limits).catch(
      (error: NodeJS.ErrnoException) => {
        throw new StartupError(`cannot listen on ${settings.host}:${settings.port}: ${error.code ?? error.message}`);
      },
    );
    const publicUrl = settings.port === 0 ? settings.publicUrl.replace(/:0$/, `:${server.address.port}`) : settings.publicUrl;
    const operations = { corsOrigins: settings.corsOrigins, processMetrics: true, ...(worker && { metricsExposition: workersMetricsText }) };
    const tessera = createTessera({
      repository,
      publicUrl,
      masterKey,
      log,
      operations,
      mutualTls: settings.tls?.clientCaFile !== undefined,
      tokenClockSkewSeconds: settings.tokenClockSkewSeconds,
      authThrottle: settings.authThrottle,
    });
    if (worker) shareMetricsWithPrimary(tessera.operations.metrics.registry);
    handler = tessera.handler;
    const grpcServer = settings.grpcPort === undefined ? undefined : await listenGrpcPort(settings, settings.grpcPort, tessera, credentials, log, server);
    const applyTls = (c: TlsCredentials) => {
      server.setCredentials(c);
      grpcServer?.setCredentials(c);
    };
    const stopWatchingTls = settings.tls ? watchTlsCredentials(settings.tls, applyTls, log) : () => {};
    return {
      server,
      grpcServer,
      publicUrl,
      repository,
      bootstrap,
      stop: async () => {
        // Not ready from now on (probes, Watch streams end); then drain, then release storage.
        tessera.operations.beginShutdown();
        stopWatchingTls();
        await Promise.all([server.close(settings.shutdownGraceMs), grpcServer?.close(settings.shutdownGraceMs)]);
        await tessera.close();
        await repository.close();
      },
    };
  } catch (error) {
    await repository.close();
    throw error;
  }
}

/** Starts the `--grpc-port` server; when it cannot listen, stops what was started and throws a {@link StartupError}. */
async function listenGrpcPort(
  settings: ServeSettings,
  port: number,
  tessera: Tessera,
  tls: TlsCredentials | undefined,
  log: Logger,
  main: ListeningServer,
): Promise<GrpcListeningServer> {
  try {
    return await listenGrpc({ tessera, log, host: settings.host, port, tls, limits: settings.limits });
  } catch (error) {
    await main.close(0);
    await tessera.close();
    // grpc-js words a bind failure as a sentence ending in the system error; name the code as for --port.
    const reason = /\bE[A-Z]{3,}\b/.exec((error as Error).message)?.[0] ?? (error as Error).message;
    throw new StartupError(`cannot listen on ${settings.host}:${port} (--grpc-port): ${reason}`);
  }
}

/** Parses every realm file before storage is touched: a bad file leaves nothing half-imported. */
async function readRealmFiles(settings: ServeSettings, cipher: MasterKeyCipher): Promise<RealmFiles> {
  const files = settings.imports.length > 0 ? settings.imports : settings.storage.kind === "memory" ? [DEMO_REALM_FILE] : [];
  const bundles: RealmBundle[] = [];
  for (const file of files) bundles.push(await parseRealmFile(file, { seal: (text, binding) => cipher.seal(text, binding) }));
  return { files, bundles };
}

/**
 * What a start does to storage once: the realm imports, the admin bootstrap, and a signing key for
 * every realm that has none (so that `--workers` workers do not race to create one), each realm's
 * active key opened once: a wrong `TESSERA_MASTER_KEY` stops the start with a {@link StartupError}.
 */
async function prepareStorage(
  repository: RealmRepository,
  { files, bundles }: RealmFiles,
  settings: ServeSettings,
  cipher: MasterKeyCipher,
  log: Logger,
): Promise<BootstrapOutcome> {
  await importRealms(repository, bundles, files, log);
  const bootstrap = await bootstrapAdmin(repository, { ...settings.bootstrapAdmin, generateSecret: settings.storage.kind === "memory" });
  logBootstrap(bootstrap, log);
  const keys = new RealmKeyStore(repository, cipher, systemClock);
  for (const realm of await repository.listRealms()) {
    await keys.signingKey(realm).catch((error: unknown) => {
      if (!(error instanceof joseErrors.JOSEError)) throw error;
      throw new StartupError(`realm ${realm.name}: its signing key cannot be opened with TESSERA_MASTER_KEY (${error.message}): is it the key the realm was stored with?`);
    });
  }
  return bootstrap;
}

/**
 * The `--workers` primary's start: storage prepared once (see {@link prepareStorage}), then the
 * workers forked. Resolves when every worker listens.
 */
async function startPrimary(settings: ServeSettings, log: Logger): Promise<{ pool: WorkerPool; listening: WorkerListening; bootstrap: BootstrapOutcome }> {
  const cipher = new MasterKeyCipher(settings.masterKey ?? ephemeralMasterKey(settings));
  const realmFiles = await readRealmFiles(settings, cipher);
  const repository = await openRepository(settings);
  let bootstrap: BootstrapOutcome;
  try {
    bootstrap = await prepareStorage(repository, realmFiles, settings, cipher, log);
  } finally {
    await repository.close();
  }
  const pool = startWorkers(settings.workers, log);
  try {
    return { pool, listening: await pool.listening, bootstrap };
  } catch (error) {
    // The worker has said why on stderr, in one line.
    if (error instanceof WorkerStartError) throw new WorkersFailedError(error.code);
    throw error;
  }
}

/** A `--workers` worker failed to start and said why itself: the primary exits with its code, silently. */
class WorkersFailedError extends Error {
  constructor(readonly code: number) {
    super("a worker failed to start");
  }
}

/** Says what the admin bootstrap did; a generated secret never reaches the log (the banner prints it once). */
function logBootstrap(outcome: BootstrapOutcome, log: Logger): void {
  if (outcome.kind === "created" || outcome.kind === "generated") {
    log.info({ realm: "master", clientId: outcome.clientId }, "bootstrap admin client created");
  } else if (outcome.kind === "none") {
    log.warn(
      { realm: "master" },
      "no admin client: every AdminService call is refused until one exists; set TESSERA_BOOTSTRAP_ADMIN_SECRET (and _CLIENT_ID) and restart",
    );
  }
}

/** Memory storage may run on a key that lives as long as the process; MongoDB storage may not. */
function ephemeralMasterKey(settings: ServeSettings): Uint8Array {
  if (settings.storage.kind === "mongodb") {
    throw new StartupError("TESSERA_MASTER_KEY is required with MongoDB storage (32 random bytes, base64): signing keys are encrypted with it");
  }
  return randomBytes(32);
}

function tlsCredentialsOf(files: TlsFiles): TlsCredentials {
  try {
    return readTlsCredentials(files);
  } catch (error) {
    if (error instanceof TlsFileError) throw new StartupError(error.message);
    throw error;
  }
}

async function openRepository(settings: ServeSettings): Promise<RealmRepository> {
  if (settings.storage.kind === "memory") return new MemoryRealmRepository();
  try {
    return await MongoRealmRepository.connect(settings.storage.uri, {
      dbName: settings.storage.database,
      serverSelectionTimeoutMS: settings.mongodbTimeoutMs,
    });
  } catch (error) {
    if (error instanceof StorageUnavailableError) throw new StartupError(`MongoDB unreachable: ${error.message}`);
    throw error;
  }
}

/** Imports each realm; a realm that already exists in storage is kept as it is (Keycloak's IGNORE_EXISTING). */
async function importRealms(repository: RealmRepository, bundles: RealmBundle[], files: string[], log: Logger): Promise<void> {
  const names = new Map<string, string>();
  bundles.forEach((bundle, i) => {
    const earlier = names.get(bundle.realm.name);
    if (earlier) throw new StartupError(`${files[i]}: realm ${bundle.realm.name} is also defined in ${earlier}`);
    names.set(bundle.realm.name, files[i]);
  });
  for (const [i, bundle] of bundles.entries()) {
    try {
      await repository.importRealm(bundle);
      await storeRealmLinks(repository, bundle.realm.name, bundle.links ?? []);
      log.info({ realm: bundle.realm.name, file: files[i] }, "realm imported");
    } catch (error) {
      if (!(error instanceof StorageConflictError)) throw error;
      log.warn({ realm: bundle.realm.name, file: files[i] }, "realm already exists in storage; not re-imported");
    }
  }
}

/** Runs `tessera serve` until SIGTERM/SIGINT; returns the process exit code. */
export async function runServe(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let settings: ServeSettings;
  let started: { facts: ListeningFacts; stop: () => Promise<boolean> };
  let lifecycle: Logger;
  try {
    const config = parseServeConfig(argv, env);
    if (config.help) {
      process.stdout.write(SERVE_USAGE);
      return 0;
    }
    if (config.printConfig) {
      process.stdout.write(renderEffectiveConfig(config));
      return 0;
    }
    settings = config;
    const format = resolveLogFormat(settings.logFormat);
    const root = createLogger({ level: settings.logLevel, mixin: requestLogFields, format });
    // The banner and the shutdown line are written whatever the level.
    lifecycle = createLogger({ format });
    if (settings.workers > 1 && cluster.isPrimary) {
      const { pool, listening, bootstrap } = await startPrimary(settings, root);
      started = { facts: { ...listening, bootstrap, workers: settings.workers }, stop: pool.stop };
    } else {
      const worker = cluster.worker;
      const log = worker ? root.child({ worker: worker.id }) : root;
      // Each serving process (a single one, or each --workers worker) traces its own requests.
      const tracing = await startTracing();
      const running = await serve(settings, log, { worker: worker !== undefined }).catch(async (error: unknown) => {
        await tracing?.shutdown();
        throw error;
      });
      const facts: ListeningFacts = {
        port: running.server.address.port,
        secure: running.server.secure,
        publicUrl: running.publicUrl,
        ...(running.grpcServer && { grpcPort: running.grpcServer.port }),
        bootstrap: running.bootstrap,
      };
      reportListening(facts);
      started = { facts, stop: () => running.stop().then(() => stopTracing(tracing, log)) };
    }
    // A worker's banner is its primary's.
    if (!cluster.isWorker) announceListening(settings, started.facts, format, lifecycle);
  } catch (error) {
    if (error instanceof WorkersFailedError) return error.code;
    if (error instanceof ConfigError || error instanceof RealmFileError || error instanceof StartupError) {
      process.stderr.write(`tessera: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  return untilSignal(started.stop, lifecycle);
}

/** Exports the spans still buffered; an unreachable collector is logged, and the stop is still clean. */
async function stopTracing(tracing: Tracing | undefined, log: Logger): Promise<boolean> {
  await tracing?.shutdown().catch((error: unknown) => log.warn({ err: error }, "traces not exported at shutdown"));
  return true;
}

/**
 * Waits for SIGTERM or SIGINT, logs it, then stops gracefully: 0 when the stop went well. A second
 * signal stops at once, except in a `--workers` worker, which its primary stops (a terminal's Ctrl-C
 * reaches both, and the primary's SIGTERM follows).
 */
function untilSignal(stop: () => Promise<boolean>, log: Logger): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) {
        if (!cluster.isWorker) process.exit(1);
        return;
      }
      stopping = true;
      log.info({ signal, ...(cluster.worker && { worker: cluster.worker.id }) }, `${signal}, shutting down`);
      stop().then(
        (clean) => resolve(clean ? 0 : 1),
        () => resolve(1),
      );
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
  });
}
