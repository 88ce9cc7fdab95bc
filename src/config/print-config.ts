import { stringify } from "yaml";
import type { ServeSettings } from "./serve-config.js";
import { SERVE_OPTIONS, type OptionKey } from "./options.js";

/** What `--print-config` shows in place of a secret. */
export const MASKED = "*****";

/**
 * A MongoDB connection string without its secrets: the password of the user information and the
 * values of query options that carry one (`...password=`, `...Token...`) are masked.
 */
export function maskMongoUri(uri: string): string {
  return uri
    .replace(/^(mongodb(?:\+srv)?:\/\/[^:@/]*:)[^@/]*@/, `$1${MASKED}@`)
    .replace(/([?&][^=&]*(?:password|token|secret)[^=&]*=)[^&]*/gi, `$1${MASKED}`);
}

/** A duration as the config file writes it: `10s`, or `500ms` when not whole seconds. */
const durationText = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** The effective value of each setting, as the config file would hold it; secrets masked. */
function effectiveValues(settings: ServeSettings): Record<OptionKey, unknown> {
  const mongo = settings.storage.kind === "mongodb" ? settings.storage : undefined;
  return {
    host: settings.host,
    port: settings.port,
    grpcPort: settings.grpcPort ?? null,
    workers: settings.workers,
    publicUrl: settings.publicUrl,
    storage: settings.storage.kind,
    mongodbUri: mongo ? maskMongoUri(mongo.uri) : null,
    mongodbDatabase: mongo ? mongo.database : null,
    mongodbTimeout: durationText(settings.mongodbTimeoutMs),
    imports: settings.imports,
    logLevel: settings.logLevel,
    logFormat: settings.logFormat,
    tlsCert: settings.tls?.certFile ?? null,
    tlsKey: settings.tls?.keyFile ?? null,
    tlsClientCa: settings.tls?.clientCaFile ?? null,
    headerTimeout: durationText(settings.limits.headerTimeoutMs),
    requestTimeout: durationText(settings.limits.requestTimeoutMs),
    idleTimeout: durationText(settings.limits.idleTimeoutMs),
    maxConnections: settings.limits.maxConnections,
    maxConnectionsPerSource: settings.limits.maxConnectionsPerSource,
    maxConcurrentStreams: settings.limits.maxConcurrentStreams,
    maxHeaderSize: settings.limits.maxHeaderBytes,
    shutdownGrace: durationText(settings.shutdownGraceMs),
    tokenClockSkew: durationText(settings.tokenClockSkewSeconds * 1000),
    authThrottle: settings.authThrottle.enabled ? "on" : "off",
    authThrottleClientFailures: settings.authThrottle.clientFailures,
    authThrottleAddressFailures: settings.authThrottle.addressFailures,
    authThrottleBackoff: durationText(settings.authThrottle.initialBackoffMs),
    authThrottleMaxBackoff: durationText(settings.authThrottle.maxBackoffMs),
    authThrottleWindow: durationText(settings.authThrottle.windowMs),
    corsOrigins: settings.corsOrigins,
    masterKey: settings.masterKey ? MASKED : null,
    bootstrapAdminClientId: settings.bootstrapAdmin.clientId ?? null,
    bootstrapAdminSecret: settings.bootstrapAdmin.secret ? MASKED : null,
  };
}

/**
 * `tessera serve --print-config`: the effective configuration as a YAML config file, each line
 * commented with where its value came from (a flag, a variable, the config file, or the default).
 */
export function renderEffectiveConfig(settings: ServeSettings): string {
  const values = effectiveValues(settings);
  const lines = ["# tessera serve: effective configuration (secrets masked)"];
  for (const { key } of SERVE_OPTIONS) {
    const value = stringify(values[key], { collectionStyle: "flow", lineWidth: 0 }).trimEnd();
    lines.push(`${key}: ${value}  # ${settings.sources[key] ?? "default"}`);
  }
  return `${lines.join("\n")}\n`;
}
