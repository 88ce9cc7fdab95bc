import { parseArgs } from "node:util";

/** Log levels of `--log-level` (pino's). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A log level of `--log-level`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Storage backends of `--storage`. */
export const STORAGE_KINDS = ["memory", "mongodb"] as const;

/** Where realms are stored. */
export type StorageConfig = { kind: "memory" } | { kind: "mongodb"; uri: string; database: string };

/** What `tessera serve` runs with. */
export interface ServeSettings {
  help: false;
  host: string;
  port: number;
  /** Base of every issuer and endpoint URL, without a trailing slash. */
  publicUrl: string;
  storage: StorageConfig;
  /** Realm files to import at start, in order. */
  imports: string[];
  logLevel: LogLevel;
  /** Key that encrypts private signing keys at rest (32 bytes), when `TESSERA_MASTER_KEY` is set. */
  masterKey: Uint8Array | undefined;
}

/** `tessera serve`'s configuration, or `{ help: true }` when `--help` asks for {@link SERVE_USAGE}. */
export type ServeConfig = { help: true } | ServeSettings;

/** A flag or environment variable with a bad value. The message is one line naming it and what was expected. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The help text of `tessera serve`. */
export const SERVE_USAGE = `Usage: tessera serve [options]

Serves Tessera (gRPC, gRPC-Web, Connect and OAuth 2.0 HTTP) on one port.
Each option can also be set by the environment variable after it; a flag wins over its variable.

  --host HOST               interface to listen on (default 127.0.0.1)           TESSERA_HOST
  --port PORT               port, 0-65535 (default 8080)                         TESSERA_PORT
  --public-url URL          base of issuer and endpoint URLs, http(s)            TESSERA_PUBLIC_URL
                            (default http://HOST:PORT)
  --storage KIND            memory | mongodb (default mongodb when a MongoDB     TESSERA_STORAGE
                            URI is set, else memory)
  --mongodb-uri URI         MongoDB connection string                            MONGODB_URI
  --mongodb-database NAME   MongoDB database (default tessera)                   TESSERA_MONGODB_DATABASE
  --import FILE             realm file (YAML or JSON) to import at start;
                            repeatable
  --log-level LEVEL         ${LOG_LEVELS.join("|")}             TESSERA_LOG_LEVEL
                            (default info)
  --help                    print this help and exit

Environment only:
  TESSERA_MASTER_KEY        32 random bytes, base64 or base64url, that encrypt signing keys at rest
                            (e.g. openssl rand -base64 32)
`;

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  "public-url": { type: "string" },
  storage: { type: "string" },
  "mongodb-uri": { type: "string" },
  "mongodb-database": { type: "string" },
  import: { type: "string", multiple: true },
  "log-level": { type: "string" },
  help: { type: "boolean" },
} as const;

/** A raw value and where it came from (`--port` or `TESSERA_PORT`), for messages. */
interface Setting {
  value: string;
  name: string;
}

/**
 * Reads `tessera serve`'s configuration from its arguments (those after `serve`) and the
 * environment: a flag wins over its variable, a variable over the default; an empty variable counts
 * as unset. Throws {@link ConfigError} on an unknown flag, a missing or bad value. Never echoes
 * the MongoDB URI or the master key.
 */
export function parseServeConfig(argv: string[], env: NodeJS.ProcessEnv): ServeConfig {
  const flags = parseFlags(argv);
  if (flags.help === true) return { help: true };
  const pick = (flag: Exclude<keyof typeof OPTIONS, "import" | "help">, variable: string): Setting | undefined => {
    const fromFlag = flags[flag];
    if (fromFlag !== undefined) return { value: fromFlag, name: `--${flag}` };
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv === "" ? undefined : { value: fromEnv, name: variable };
  };

  const host = pick("host", "TESSERA_HOST");
  if (host !== undefined && !/^\S+$/.test(host.value)) fail(host, "expected a host name or IP address", true);
  const hostValue = host?.value ?? "127.0.0.1";
  const port = portOf(pick("port", "TESSERA_PORT"));
  const publicUrl = publicUrlOf(pick("public-url", "TESSERA_PUBLIC_URL"), hostValue, port);
  const logLevel = oneOf(pick("log-level", "TESSERA_LOG_LEVEL"), LOG_LEVELS) ?? "info";
  const imports = flags.import ?? [];
  if (imports.includes("")) throw new ConfigError("--import: expected a file path");
  return {
    help: false,
    host: hostValue,
    port,
    publicUrl,
    storage: storageOf(
      pick("storage", "TESSERA_STORAGE"),
      pick("mongodb-uri", "MONGODB_URI"),
      pick("mongodb-database", "TESSERA_MONGODB_DATABASE"),
    ),
    imports,
    logLevel,
    masterKey: masterKeyOf(env.TESSERA_MASTER_KEY),
  };
}

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ConfigError(describeArgsError(error as Error & { code?: string }));
  }
}

/** Rewords `node:util` parseArgs errors as one line; a stray positional argument is not echoed. */
function describeArgsError(error: Error & { code?: string }): string {
  const option = /'(-[^' ]*)/.exec(error.message)?.[1] ?? "";
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

function portOf(setting: Setting | undefined): number {
  if (setting === undefined) return 8080;
  const port = /^\d{1,5}$/.test(setting.value) ? Number(setting.value) : NaN;
  if (!(port <= 65535)) fail(setting, "expected an integer 0-65535", true);
  return port;
}

/** The issuer base: an absolute http(s) URL; RFC 8414 §2 forbids a query or fragment in an issuer. */
function publicUrlOf(setting: Setting | undefined, host: string, port: number): string {
  if (setting === undefined) return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
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
function masterKeyOf(value: string | undefined): Uint8Array | undefined {
  if (value === undefined || value === "") return undefined;
  const text = value.trim();
  const key = /^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/.test(text) ? Buffer.from(text, "base64") : undefined;
  if (key?.length !== 32) {
    const expected = "expected 32 bytes in base64 or base64url (e.g. openssl rand -base64 32)";
    throw new ConfigError(`TESSERA_MASTER_KEY: ${expected}; the value is not shown`);
  }
  return new Uint8Array(key);
}
