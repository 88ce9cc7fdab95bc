import { parseArgs } from "node:util";
import { authority } from "../domain/authority.js";
import { DEFAULT_AUTH_THROTTLE, type AuthThrottleSettings } from "../exchange/auth-throttle.js";
import { ConfigFileError, readConfigFile, type ConfigFile } from "./config-file.js";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../server/connection-limits.js";
import { LOG_FORMATS, LOG_LEVELS, PARSE_ARGS_OPTIONS, SERVE_OPTIONS, STORAGE_KINDS, serveUsage, type OptionKey } from "./options.js";

export { LOG_FORMATS, LOG_LEVELS, STORAGE_KINDS };

/** A log level of `--log-level`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log format of `--log-format`. */
export type LogFormatSetting = (typeof LOG_FORMATS)[number];

/** Where realms are stored. */
export type StorageConfig = { kind: "memory" } | { kind: "mongodb"; uri: string; database: string };

/** The certificate and key files of `--tls-cert` / `--tls-key`. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** `--tls-client-ca`: CA certificates that client certificates must chain to (mutual TLS). */
  clientCaFile?: string;
}

/** What `tessera serve` runs with. */
export interface ServeSettings {
  help: false;
  /** `--print-config`: print {@link ServeSettings} (secrets masked) instead of serving. */
  printConfig: boolean;
  host: string;
  port: number;
  /** `--grpc-port`: also serve gRPC through @grpc/grpc-js on this port (0: any free one); undefined: off. */
  grpcPort: number | undefined;
  /** `--workers`: processes sharing the port(s); more than one only with MongoDB storage. */
  workers: number;
  /** Base of every issuer and endpoint URL, without a trailing slash. */
  publicUrl: string;
  storage: StorageConfig;
  /** `--mongodb-timeout`: how long a request waits for MongoDB before it answers temporarily_unavailable, ms. */
  mongodbTimeoutMs: number;
  /** Realm files to import at start, in order. */
  imports: string[];
  logLevel: LogLevel;
  /** `--log-format`: `auto` (pretty on a terminal, else JSON), `json` or `pretty`. */
  logFormat: LogFormatSetting;
  /** Key that encrypts private signing keys at rest (32 bytes), when `TESSERA_MASTER_KEY` is set. */
  masterKey: Uint8Array | undefined;
  /** Serve HTTPS and gRPC over TLS with these files; cleartext when undefined. */
  tls: TlsFiles | undefined;
  /** Timeouts, connection counts and HTTP/2 limits of both ports (docs/operations.md, "Connection and request limits"). */
  limits: ConnectionLimits;
  /** How long in-flight requests may finish after SIGTERM, milliseconds. */
  shutdownGraceMs: number;
  /** Leeway on `exp`/`nbf` of the realms' own tokens, seconds (`--token-clock-skew`). */
  tokenClockSkewSeconds: number;
  /** `--auth-throttle*`: throttling of failed authentication. */
  authThrottle: AuthThrottleSettings;
  /** Origins allowed by CORS (`*` for any); empty: CORS off. */
  corsOrigins: string[];
  /** The admin client created in an empty master realm on a first start (both or neither set). */
  bootstrapAdmin: { clientId?: string; secret?: string };
  /** Where each setting came from: a flag, a variable, the config file, or `default`. */
  sources: Partial<Record<OptionKey, string>>;
}

/** `tessera serve`'s configuration, or `{ help: true }` when `--help` asks for {@link SERVE_USAGE}. */
export type ServeConfig = { help: true } | ServeSettings;

/** A flag, environment variable or config file key with a bad value. The message is one line naming it and what was expected. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The help text of `tessera serve`. */
export const SERVE_USAGE = serveUsage();

/** A raw value and where it came from (`--port`, `TESSERA_PORT` or `tessera.yaml: port`), for messages. */
interface Setting {
  value: string;
  name: string;
}

/** A list setting's values and where they came from. */
interface ListSetting {
  values: string[];
  name: string;
}

/** Where each setting's value is looked up, in order of precedence. */
interface Sources {
  flags: Record<string, string | boolean | string[] | undefined>;
  env: NodeJS.ProcessEnv;
  file: ConfigFile | undefined;
  /** Filled in as settings are picked. */
  picked: Partial<Record<OptionKey, string>>;
}

/** The flag and variable of each setting. */
const NAMES = new Map(SERVE_OPTIONS.map((o) => [o.key as OptionKey, { flag: "flag" in o ? o.flag : undefined, env: o.env }]));

/**
 * The raw value of a setting: the flag, else the variable (empty counts as unset; a list's is
 * comma-separated), else the config file. Records where it came from.
 */
function pickRaw(sources: Sources, key: OptionKey, list: boolean): { raw: string | string[]; name: string } | undefined {
  const { flag, env } = NAMES.get(key) ?? { env: "" };
  const fromFlag = flag === undefined ? undefined : sources.flags[flag];
  const fromEnv = sources.env[env];
  const fromFile = sources.file?.values.get(key);
  let found: { raw: string | string[]; name: string } | undefined;
  if (typeof fromFlag === "string" || Array.isArray(fromFlag)) found = { raw: fromFlag, name: `--${flag}` };
  else if (fromEnv !== undefined && fromEnv !== "") {
    found = { raw: list ? fromEnv.split(",").map((v) => v.trim()).filter(Boolean) : fromEnv, name: env };
  } else if (fromFile !== undefined) found = { raw: fromFile, name: `${sources.file?.path}: ${key}` };
  if (found) sources.picked[key] = found.name.startsWith("--") || found.name === env ? found.name : (sources.file?.path ?? "");
  return found;
}

/** A single-valued setting (see {@link pickRaw}). */
function pick(sources: Sources, key: OptionKey): Setting | undefined {
  const found = pickRaw(sources, key, false);
  return found && { value: [found.raw].flat()[0] ?? "", name: found.name };
}

/** A list setting: the repeated flag, else the comma-separated variable, else the file's list. */
function pickList(sources: Sources, key: OptionKey): ListSetting | undefined {
  const found = pickRaw(sources, key, true);
  return found && { values: [found.raw].flat(), name: found.name };
}

/**
 * Reads `tessera serve`'s configuration from its arguments (those after `serve`), the environment
 * and the config file (`--config` or `TESSERA_CONFIG`): a flag wins over its variable, a variable
 * over the file, the file over the default; an empty variable counts as unset. Throws
 * {@link ConfigError} on an unknown flag or key, a missing or bad value. Never echoes the MongoDB
 * URI or the master key.
 */
export function parseServeConfig(argv: string[], env: NodeJS.ProcessEnv): ServeConfig {
  const flags = parseFlags(argv);
  if (flags.help === true) return { help: true };
  const configPath = typeof flags.config === "string" ? flags.config : env.TESSERA_CONFIG || undefined;
  if (configPath === "") throw new ConfigError("--config: expected a file path");
  let file: ConfigFile | undefined;
  try {
    file = configPath === undefined ? undefined : readConfigFile(configPath);
  } catch (error) {
    if (error instanceof ConfigFileError) throw new ConfigError(error.message);
    throw error;
  }
  const sources: Sources = { flags, env, file, picked: {} };

  const host = pick(sources, "host");
  if (host !== undefined && !/^\S+$/.test(host.value)) fail(host, "expected a host name or IP address", true);
  const hostValue = host?.value ?? "127.0.0.1";
  const port = portOf(pick(sources, "port")) ?? 8080;
  const grpcPort = grpcPortOf(pick(sources, "grpcPort"), port);
  const tls = tlsOf(pick(sources, "tlsCert"), pick(sources, "tlsKey"), pick(sources, "tlsClientCa"));
  const publicUrl = publicUrlOf(pick(sources, "publicUrl"), hostValue, port, tls !== undefined);
  const logLevel = oneOf(pick(sources, "logLevel"), LOG_LEVELS) ?? "info";
  const logFormat = oneOf(pick(sources, "logFormat"), LOG_FORMATS) ?? "auto";
  const imports = pickList(sources, "imports");
  if (imports?.values.includes("")) throw new ConfigError(`${imports.name}: expected a file path`);
  const storage = storageOf(pick(sources, "storage"), pick(sources, "mongodbUri"), pick(sources, "mongodbDatabase"));
  const workers = workersOf(pick(sources, "workers"), storage);
  return {
    help: false,
    printConfig: flags["print-config"] === true,
    host: hostValue,
    port,
    grpcPort,
    workers,
    publicUrl,
    storage,
    mongodbTimeoutMs: mongodbTimeoutOf(pick(sources, "mongodbTimeout")),
    imports: imports?.values ?? [],
    logLevel,
    logFormat,
    masterKey: masterKeyOf(pick(sources, "masterKey")),
    tls,
    limits: limitsOf(sources),
    shutdownGraceMs: durationOf(pick(sources, "shutdownGrace")) ?? 10_000,
    tokenClockSkewSeconds: clockSkewOf(pick(sources, "tokenClockSkew")),
    authThrottle: authThrottleOf(sources),
    corsOrigins: corsOriginsOf(pickList(sources, "corsOrigins")),
    bootstrapAdmin: bootstrapAdminOf(pick(sources, "bootstrapAdminClientId"), pick(sources, "bootstrapAdminSecret")),
    sources: sources.picked,
  };
}

function parseFlags(argv: string[]): Sources["flags"] {
  try {
    return parseArgs({ args: argv, options: PARSE_ARGS_OPTIONS, strict: true, allowPositionals: false }).values as Sources["flags"];
  } catch (error) {
    throw new ConfigError(describeArgsError(error as Error & { code?: string }));
  }
}

/** Rewords `node:util` parseArgs errors as one line; a stray positional argument is not echoed. */
function describeArgsError(error: Error & { code?: string }): string {
  // "Option '-h, --help' does not take an argument": name the long form.
  const option = /'(?:-\w, )?(-[^' ]*)/.exec(error.message)?.[1] ?? "";
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option} (see tessera serve --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return error.message.includes("does not take an argument")
        ? `${option}: expected no value`
        : `${option}: expected a value (one starting with "-" is written ${option}=-...)`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return "unexpected argument: tessera serve takes options only (see tessera serve --help)";
    default:
      return error.message.split("\n")[0];
  }
}

function fail(setting: Setting, expected: string, echo: boolean): never {
  throw new ConfigError(`${setting.name}: ${expected}${echo ? `, got ${JSON.stringify(setting.value)}` : ""}`);
}

function portOf(setting: Setting | undefined): number | undefined {
  if (setting === undefined) return undefined;
  const port = /^\d{1,5}$/.test(setting.value) ? Number(setting.value) : NaN;
  if (!(port <= 65535)) fail(setting, "expected an integer 0-65535", true);
  return port;
}

/** The gRPC port is validated like `--port`, and cannot be the main port (both would not bind). */
function grpcPortOf(setting: Setting | undefined, mainPort: number): number | undefined {
  const port = portOf(setting);
  if (setting !== undefined && port !== 0 && port === mainPort) fail(setting, `expected a port other than the main port ${mainPort}`, true);
  return port;
}

/**
 * `--workers`: 1-256 processes. Memory storage lives in one process: several would each hold a
 * different realm state (a token issued by one unknown to the next), so more than one needs MongoDB.
 */
function workersOf(setting: Setting | undefined, storage: StorageConfig): number {
  if (setting === undefined) return 1;
  const workers = /^\d{1,3}$/.test(setting.value) ? Number(setting.value) : NaN;
  if (!(workers >= 1 && workers <= 256)) fail(setting, "expected an integer 1-256", true);
  if (workers > 1 && storage.kind !== "mongodb") fail(setting, "more than 1 needs MongoDB storage (memory storage lives in one process)", false);
  return workers;
}

/** The issuer base: an absolute http(s) URL; RFC 8414 §2 forbids a query or fragment in an issuer. */
function publicUrlOf(setting: Setting | undefined, host: string, port: number, secure: boolean): string {
  if (setting === undefined) return `${secure ? "https" : "http"}://${authority(host, port)}`;
  const url = URL.canParse(setting.value) ? new URL(setting.value) : undefined;
  const ok =
    url !== undefined &&
    (url.protocol === "http:" || url.protocol === "https:") &&
    url.username === "" &&
    url.password === "" &&
    !/[?#]/.test(setting.value);
  if (!ok) fail(setting, "expected an absolute http(s) URL without credentials, query or fragment", true);
  return url.href.replace(/\/+$/, "");
}

function oneOf<T extends string>(setting: Setting | undefined, allowed: readonly T[]): T | undefined {
  if (setting === undefined) return undefined;
  const found = allowed.find((value) => value === setting.value);
  return found ?? fail(setting, `expected one of ${allowed.join(" | ")}`, true);
}

function storageOf(kind: Setting | undefined, uri: Setting | undefined, database: Setting | undefined): StorageConfig {
  const chosen = oneOf(kind, STORAGE_KINDS) ?? (uri === undefined ? "memory" : "mongodb");
  if (chosen === "memory") return { kind: "memory" };
  if (uri === undefined) {
    throw new ConfigError(`${kind?.name ?? "--storage"}: mongodb expects --mongodb-uri or MONGODB_URI`);
  }
  if (!/^mongodb(\+srv)?:\/\/\S+$/.test(uri.value)) {
    fail(uri, "expected a mongodb:// or mongodb+srv:// connection string", false);
  }
  // MongoDB database names: at most 63 bytes, none of /\. "$*<>:|? (MongoDB manual, naming restrictions).
  if (database !== undefined && !/^[^/\\. "$*<>:|?\0]{1,63}$/.test(database.value)) {
    fail(database, 'expected a MongoDB database name: 1-63 characters, none of /\\. "$*<>:|?', true);
  }
  return { kind: "mongodb", uri: uri.value, database: database?.value ?? "tessera" };
}

/** A 32-byte key in base64 or base64url; the value is never part of a message. */
function masterKeyOf(setting: Setting | undefined): Uint8Array | undefined {
  if (setting === undefined) return undefined;
  const text = setting.value.trim();
  const key = /^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/.test(text) ? Buffer.from(text, "base64") : undefined;
  if (key?.length !== 32) {
    fail(setting, "expected 32 bytes in base64 or base64url (e.g. openssl rand -base64 32); the value is not shown", false);
  }
  return new Uint8Array(key);
}

/** `--tls-cert` and `--tls-key` go together. */
function tlsOf(cert: Setting | undefined, key: Setting | undefined, clientCa: Setting | undefined): TlsFiles | undefined {
  if (cert === undefined && key === undefined) {
    if (clientCa !== undefined && clientCa.value !== "") throw new ConfigError(`${clientCa.name}: expected together with --tls-cert and --tls-key`);
    return undefined;
  }
  if (cert === undefined || cert.value === "") throw new ConfigError(`${key?.name}: expected together with --tls-cert (TESSERA_TLS_CERT)`);
  if (key === undefined || key.value === "") throw new ConfigError(`${cert.name}: expected together with --tls-key (TESSERA_TLS_KEY)`);
  return { certFile: cert.value, keyFile: key.value, ...(clientCa?.value && { clientCaFile: clientCa.value }) };
}

/**
 * The bootstrap admin client: a secret needs no id (the id defaults to `admin`), but an id without
 * a secret is refused rather than given a default password. The secret is never echoed.
 */
function bootstrapAdminOf(clientId: Setting | undefined, secret: Setting | undefined): ServeSettings["bootstrapAdmin"] {
  if (clientId !== undefined && !/^[\x21-\x7E]{1,128}$/.test(clientId.value)) fail(clientId, "expected 1-128 printable characters, no space", true);
  if (clientId !== undefined && secret === undefined) {
    throw new ConfigError(`${clientId.name}: expected together with TESSERA_BOOTSTRAP_ADMIN_SECRET (there is no default password)`);
  }
  if (secret !== undefined && secret.value.length < 16) fail(secret, "expected at least 16 characters; the value is not shown", false);
  return { ...(clientId && { clientId: clientId.value }), ...(secret && { secret: secret.value }) };
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** A duration such as `500ms`, `10s`, `1m`, or a number of seconds; at most an hour. */
function durationOf(setting: Setting | undefined): number | undefined {
  if (setting === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(setting.value.trim());
  const ms = match ? Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? "s"]) : NaN;
  if (!(ms <= 3_600_000)) fail(setting, "expected a duration such as 500ms, 10s or 1m (at most 1h)", true);
  return ms;
}

/** The connection and request limits: timeouts of at least 1 ms, counts of at least 1. */
function limitsOf(sources: Sources): ConnectionLimits {
  const timeout = (key: OptionKey, fallback: number) => {
    const setting = pick(sources, key);
    const ms = durationOf(setting) ?? fallback;
    if (setting !== undefined && ms < 1) fail(setting, "expected a duration of at least 1ms", true);
    return ms;
  };
  return {
    headerTimeoutMs: timeout("headerTimeout", DEFAULT_CONNECTION_LIMITS.headerTimeoutMs),
    requestTimeoutMs: timeout("requestTimeout", DEFAULT_CONNECTION_LIMITS.requestTimeoutMs),
    idleTimeoutMs: timeout("idleTimeout", DEFAULT_CONNECTION_LIMITS.idleTimeoutMs),
    maxConnections: integerOf(pick(sources, "maxConnections"), 1, 1_000_000) ?? DEFAULT_CONNECTION_LIMITS.maxConnections,
    maxConnectionsPerSource: integerOf(pick(sources, "maxConnectionsPerSource"), 1, 1_000_000) ?? DEFAULT_CONNECTION_LIMITS.maxConnectionsPerSource,
    maxConcurrentStreams: integerOf(pick(sources, "maxConcurrentStreams"), 1, 1_000_000) ?? DEFAULT_CONNECTION_LIMITS.maxConcurrentStreams,
    maxHeaderBytes: integerOf(pick(sources, "maxHeaderSize"), 1024, 1024 * 1024) ?? DEFAULT_CONNECTION_LIMITS.maxHeaderBytes,
  };
}

/** An integer setting within `[min, max]`. */
function integerOf(setting: Setting | undefined, min: number, max: number): number | undefined {
  if (setting === undefined) return undefined;
  const value = /^\d{1,7}$/.test(setting.value.trim()) ? Number(setting.value.trim()) : NaN;
  if (!(value >= min && value <= max)) fail(setting, `expected an integer ${min}-${max}`, true);
  return value;
}

/** `--mongodb-timeout`: a duration from 100 ms to 1 minute; 5 s by default. */
function mongodbTimeoutOf(setting: Setting | undefined): number {
  const ms = durationOf(setting) ?? 5000;
  if (setting !== undefined && !(ms >= 100 && ms <= 60_000)) fail(setting, "expected from 100ms to 1m", true);
  return ms;
}

/** `--token-clock-skew`: a duration of at most 5 minutes, in seconds; 0 by default. */
function clockSkewOf(setting: Setting | undefined): number {
  const ms = durationOf(setting) ?? 0;
  if (setting !== undefined && ms > 300_000) fail(setting, "expected at most 5m (a skew, not a lifetime)", true);
  return ms / 1000;
}

/** `--auth-throttle*`: on or off, the two thresholds, the back-off and the window; unset ones take {@link DEFAULT_AUTH_THROTTLE}. */
function authThrottleOf(sources: Sources): AuthThrottleSettings {
  const d = DEFAULT_AUTH_THROTTLE;
  const settings: AuthThrottleSettings = {
    enabled: (oneOf(pick(sources, "authThrottle"), ["on", "off"]) ?? "on") === "on",
    clientFailures: integerOf(pick(sources, "authThrottleClientFailures"), 1, 1000) ?? d.clientFailures,
    addressFailures: integerOf(pick(sources, "authThrottleAddressFailures"), 0, 100_000) ?? d.addressFailures,
    initialBackoffMs: durationOf(pick(sources, "authThrottleBackoff")) ?? d.initialBackoffMs,
    maxBackoffMs: durationOf(pick(sources, "authThrottleMaxBackoff")) ?? d.maxBackoffMs,
    windowMs: durationOf(pick(sources, "authThrottleWindow")) ?? d.windowMs,
  };
  const backoff = pick(sources, "authThrottleBackoff");
  if (backoff !== undefined && settings.initialBackoffMs > settings.maxBackoffMs) fail(backoff, `expected at most the longest back-off (${settings.maxBackoffMs} ms)`, true);
  return settings;
}

/**
 * CORS origins: `*`, or serialized origins (scheme, host, port; no path). They are compared with the
 * browser's `Origin` header (RFC 6454 §6.1), so each is normalized as browsers serialize it.
 */
function corsOriginsOf(setting: ListSetting | undefined): string[] {
  if (setting === undefined) return [];
  return setting.values.map((value) => {
    if (value === "*") return value;
    const url = URL.canParse(value) ? new URL(value) : undefined;
    const bare = url !== undefined && url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password;
    const origin = bare && (url.protocol === "http:" || url.protocol === "https:") ? url.origin : undefined;
    if (origin === undefined) {
      fail({ value, name: setting.name }, "expected * or an origin such as https://app.example.com (no path)", true);
    }
    return origin;
  });
}
