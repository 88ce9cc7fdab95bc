import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { Health } from "../../gen/health/v1/health_pb.js";
import { type HttpRequest, type HttpResponse, writeHead } from "../http/node-types.js";
import type { Logger } from "./logger.js";
import type { DualHandler } from "../server/listen.js";
import type { RealmRepository } from "../storage/realm-repository.js";
import type { RealmKeyStore } from "../tokens/realm-keys.js";
import { createCors, type CorsHandler } from "./cors.js";
import { healthServiceImpl } from "./grpc-health.js";
import { HealthMonitor } from "./health.js";
import { instrumentRepository } from "./instrumented-repository.js";
import { observeJwksFetches } from "./jwks-fetch-metrics.js";
import { TesseraMetrics } from "./metrics.js";
import { keysLoadedCheck, storageReachableCheck } from "./readiness-checks.js";
import { REFLECTION_SERVICES, reflectionServiceImpls } from "./reflection.js";
import { RequestRecord, requestIdOf, runWithRequest, type Surface } from "./request-context.js";
import { captureGrpcStatus, finishRequest } from "./request-log.js";
import { observeRpcImplementation, observingInterceptor } from "./rpc-observer.js";
import { runInSpanContext, startServerSpan } from "./tracing.js";
import { isTracedRpc } from "./request-span.js";

/** Options of {@link Operations}. */
export interface OperationsOptions {
  /** Origins allowed by CORS (`*`: any); none: CORS off. */
  corsOrigins?: readonly string[];
  /** Export process metrics (CPU, memory, event loop, GC). Default false (tests run many servers in one process). */
  processMetrics?: boolean;
  /** Time between readiness checks, ms. Default 5000. */
  readinessIntervalMs?: number;
  /** A readiness check slower than this fails, ms. Default 2000. */
  readinessTimeoutMs?: number;
  /**
   * Where `/metrics` gets its text: by default this process's registry; a `--workers` worker asks its
   * primary for the sum over every worker (the text, in the registry's content type).
   */
  metricsExposition?: () => Promise<string>;
}

/** Paths Tessera answers itself, before any RPC or OAuth route. */
const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** The surface a request's content type names; Connect unary requests are told apart by their path. */
function surfaceOf(req: HttpRequest, isRpc: boolean): Surface {
  const type = req.headers["content-type"] ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return isRpc ? "connect" : "http";
}

/**
 * Running Tessera in production: health (HTTP probes and `grpc.health.v1`), server reflection,
 * Prometheus metrics, one structured log line per request with its request id, CORS. Wraps the
 * request handler and the storage of {@link createTessera}; holds no exchange logic.
 */
export class Operations {
  readonly metrics: TesseraMetrics;
  readonly health: HealthMonitor;
  readonly #log: Logger;
  readonly #cors: CorsHandler | undefined;
  readonly #interceptor: Interceptor;
  readonly #stopJwksObserver: () => void;
  #router: ConnectRouter | undefined;
  #rpcNames: Map<string, string> | undefined;

  constructor(log: Logger, options: OperationsOptions = {}) {
    this.#log = log;
    this.metrics = new TesseraMetrics({ processMetrics: options.processMetrics ?? false, exposition: options.metricsExposition });
    this.health = new HealthMonitor({
      log,
      intervalMs: options.readinessIntervalMs,
      timeoutMs: options.readinessTimeoutMs,
      onChange: (ready) => this.metrics.ready.set(ready ? 1 : 0),
    });
    this.#cors = createCors(options.corsOrigins ?? []);
    this.#interceptor = observingInterceptor(this.metrics);
    this.#stopJwksObserver = observeJwksFetches(this.metrics.jwksFetchDuration);
  }

  /** The Connect interceptors of the RPC surfaces. */
  get interceptors(): Interceptor[] {
    return [this.#interceptor];
  }

  /** The storage, timed into `tessera_storage_operation_duration_seconds`. */
  instrumentRepository(repository: RealmRepository): RealmRepository {
    return instrumentRepository(repository, this.metrics.storageDuration);
  }

  /** An RPC implementation called in-process (by the OAuth HTTP adapter), observed like the RPC surfaces. */
  observeRpc<T extends object>(implementation: T): T {
    return observeRpcImplementation(implementation, this.metrics);
  }

  /** Starts the readiness checks: storage reachable (`repository` unwrapped), every realm's keys loaded. */
  monitorReadiness(repository: RealmRepository, keys: RealmKeyStore): void {
    this.health.start([storageReachableCheck(repository), keysLoadedCheck(repository, keys)]);
  }

  /**
   * Adds `grpc.health.v1.Health` and server reflection (`grpc.reflection.v1` and `v1alpha`) to the
   * router; reflection and health describe every service on it, registered before or after.
   */
  registerServices(router: ConnectRouter): void {
    this.#router = router;
    router.service(Health, healthServiceImpl(this.health, () => this.#servedServices().map((s) => s.typeName)));
    const reflection = reflectionServiceImpls(() => this.#servedServices());
    router.service(REFLECTION_SERVICES.v1, reflection.v1);
    router.service(REFLECTION_SERVICES.v1alpha, reflection.v1alpha);
  }

  /**
   * Wraps the handler of every request: request id (`x-request-id`, accepted when safe, else new;
   * always answered), CORS, `/healthz`, `/readyz`, `/metrics`, then `handler` with the request as
   * the current one (log lines written meanwhile carry its id) and, when tracing is on, in a
   * server span whose parent is the caller's `traceparent`; at the end, one log line, the request
   * metrics and the span's end.
   */
  wrap(handler: DualHandler): DualHandler {
    return (req, res) => {
      const record = new RequestRecord(requestIdOf(req.headers["x-request-id"]));
      const path = (req.url ?? "/").split("?")[0];
      const rpc = this.#rpcNameOf(path);
      record.surface = surfaceOf(req, rpc !== undefined);
      if (rpc !== undefined) record.operation = rpc;
      res.setHeader("x-request-id", record.id);
      if (record.surface === "grpc") captureGrpcStatus(res, record);
      // Probes and scrapes are not traced: a span every few seconds per probe says nothing.
      const probe = OPS_PATHS.has(path) || (rpc !== undefined && !isTracedRpc(rpc));
      const traced = probe ? undefined : startServerSpan(rpc ?? req.method ?? "HTTP", { headers: req.headers }, { "tessera.surface": record.surface });
      record.span = traced?.span;
      res.once("close", () => finishRequest(req, res, record, this.#log, this.metrics));
      runWithRequest(record, () => runInSpanContext(traced, () => {
        if (this.#cors?.(req, res)) {
          record.operation = "cors_preflight";
        } else if (OPS_PATHS.has(path) && (req.method === "GET" || req.method === "HEAD")) {
          record.operation = path.slice(1);
          record.quiet = true;
          void this.#serveOpsPath(path, req, res);
        } else {
          handler(req, res);
        }
      }));
    };
  }

  /** SIGTERM: not ready from now on; `Watch` streams get NOT_SERVING and end, so connections can drain. */
  beginShutdown(): void {
    this.health.beginShutdown();
    this.health.close();
  }

  /** Stops the readiness checks and the JWKS fetch observer; ends `Watch` streams. Idempotent. */
  close(): void {
    this.health.close();
    this.#stopJwksObserver();
  }

  async #serveOpsPath(path: string, req: HttpRequest, res: HttpResponse): Promise<void> {
    let status = 200;
    let type = "application/json";
    let body: string;
    if (path === "/metrics") {
      try {
        const rendered = await this.metrics.render();
        type = rendered.contentType;
        body = rendered.body;
      } catch (error) {
        // Another worker's counters could not be gathered: no partial sum that would read as a counter reset.
        this.#log.warn({ err: error }, "metrics unavailable");
        status = 503;
        body = JSON.stringify({ status: "metrics unavailable" });
      }
    } else if (path === "/readyz") {
      const report = this.health.report();
      status = report.status === "ready" ? 200 : 503;
      body = JSON.stringify(report);
    } else {
      body = JSON.stringify({ status: "ok" });
    }
    req.resume();
    writeHead(res, status, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? "" : body);
  }

  /** The services on the router, each once. */
  #servedServices(): DescService[] {
    const services = new Map<string, DescService>();
    for (const handler of this.#router?.handlers ?? []) services.set(handler.service.typeName, handler.service);
    return [...services.values()];
  }

  /** `package.Service/Method` of an RPC path, undefined for any other path. */
  #rpcNameOf(path: string): string | undefined {
    if (this.#rpcNames === undefined && this.#router !== undefined) {
      this.#rpcNames = new Map(this.#router.handlers.map((h) => [h.requestPath, `${h.service.typeName}/${h.method.name}`]));
    }
    return this.#rpcNames?.get(path);
  }
}
