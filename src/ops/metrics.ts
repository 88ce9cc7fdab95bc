import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { REALM_NAME_PATTERN } from "../domain/index.js";
import type { AuthThrottleObserver, CredentialKind, ThrottleScope } from "../exchange/auth-throttle.js";
import type { ClientAuthFailure } from "../exchange/errors.js";
import type { RequestRecord } from "./request-context.js";

/** Options of {@link TesseraMetrics}. */
export interface MetricsOptions {
  /** Also export the process metrics of prom-client (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
  /** Where {@link TesseraMetrics.render} gets its text (see `OperationsOptions.metricsExposition`); default the registry's. */
  exposition?: () => Promise<string>;
}

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Token types of RFC 8693 §3, as their short names; any other URN is labelled `other`. */
const TOKEN_TYPES = new Set(["access_token", "refresh_token", "id_token", "jwt", "saml1", "saml2"]);

/**
 * Tessera's Prometheus metrics, in a registry of their own (one per server: tests run several in one
 * process). No label carries a token, a secret, a user or an unbounded value: realms are labelled
 * only once they are known to exist, operations are RPC names or fixed endpoint names.
 */
export class TesseraMetrics implements AuthThrottleObserver {
  readonly registry = new Registry();

  /** Requests by surface, RPC or endpoint/grant, result and OAuth error code. */
  readonly requests = new Counter({
    name: "tessera_requests_total",
    help: "Requests answered, by surface (grpc, grpc-web, connect, http), operation (RPC or endpoint/grant), result and OAuth error code",
    labelNames: ["surface", "operation", "result", "error"] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: "tessera_request_duration_seconds",
    help: "Time from the request's arrival to the end of its answer",
    labelNames: ["surface", "operation"] as const,
    buckets: SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: "tessera_tokens_issued_total",
    help: "Tokens issued, by realm and token type",
    labelNames: ["realm", "token_type"] as const,
    registers: [this.registry],
  });

  readonly clientAuthenticationFailures = new Counter({
    name: "tessera_client_authentication_failures_total",
    help: "Requests refused with invalid_client (client authentication failed), by surface",
    labelNames: ["surface"] as const,
    registers: [this.registry],
  });

  readonly clientAuthFailures = new Counter({
    name: "tessera_client_auth_failures_total",
    help: "Failed authentication attempts (clients on the token endpoints, AdminService bearer tokens), by realm and reason",
    labelNames: ["realm", "reason"] as const,
    registers: [this.registry],
  });

  readonly authThrottled = new Counter({
    name: "tessera_auth_throttled_total",
    help: "Attempts refused unchecked while throttled after failed authentication, by credential (client, admin_bearer) and counter (client_address, address)",
    labelNames: ["credential", "scope"] as const,
    registers: [this.registry],
  });

  readonly storageDuration = new Histogram({
    name: "tessera_storage_operation_duration_seconds",
    help: "RealmRepository calls, by method and result (ok, unavailable, conflict, not_found, error)",
    labelNames: ["operation", "result"] as const,
    buckets: [0.0005, ...SECONDS_BUCKETS],
    registers: [this.registry],
  });

  readonly jwksFetchDuration = new Histogram({
    name: "tessera_jwks_fetch_duration_seconds",
    help: "Fetches of remote JWK Sets (client jwksUri), by result (ok, http_error, network_error)",
    labelNames: ["result"] as const,
    buckets: SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly ready = new Gauge({
    name: "tessera_ready",
    help: "1 while the server is ready (storage reachable, keys loaded), else 0",
    // Summed over `--workers` processes, the least: ready only when every worker is.
    aggregator: "min",
    registers: [this.registry],
  });

  readonly #exposition: () => Promise<string>;

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.#exposition = options.exposition ?? (() => this.registry.metrics());
  }

  /** Counts one answered request. */
  observeRequest(record: RequestRecord, ok: boolean): void {
    const error = ok ? "" : (record.error ?? "unknown");
    this.requests.inc({ surface: record.surface, operation: record.operation, result: ok ? "ok" : "error", error });
    this.requestDuration.observe({ surface: record.surface, operation: record.operation }, record.elapsedSeconds());
    if (error === "invalid_client") this.clientAuthenticationFailures.inc({ surface: record.surface });
  }

  /** Counts a failed authentication attempt in a realm that exists. */
  authenticationFailed(realm: string, reason: ClientAuthFailure): void {
    this.clientAuthFailures.inc({ realm: realmLabel(realm), reason });
  }

  /** Counts an attempt refused while throttled. */
  throttled(credential: CredentialKind, scope: ThrottleScope): void {
    this.authThrottled.inc({ credential, scope });
  }

  /** Counts an issued token; `tokenType` is an RFC 8693 token type URN (or empty for an access token). */
  countIssued(realm: string, tokenType: string): void {
    const short = tokenType === "" ? "access_token" : tokenType.replace("urn:ietf:params:oauth:token-type:", "");
    this.tokensIssued.inc({ realm: realmLabel(realm), token_type: TOKEN_TYPES.has(short) ? short : "other" });
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.#exposition() };
  }
}

/** A realm name as a label: only well-formed names (callers pass realms known to exist), else `unknown`. */
export function realmLabel(realm: string): string {
  return REALM_NAME_PATTERN.test(realm) ? realm : "unknown";
}
