/**
 * The one table of `tessera serve`'s settings: each has a flag, an environment variable and a key in
 * the config file (`--config`). The help text, the flag parser and docs/operations.md's configuration
 * reference (`npm run docs:config`) are all generated from it.
 */

/** Log levels of `--log-level` (pino's). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Log formats of `--log-format`: `auto` is `pretty` when stdout is a terminal, else `json`. */
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;

/** Storage backends of `--storage`. */
export const STORAGE_KINDS = ["memory", "mongodb"] as const;

/** One setting of `tessera serve`. */
export interface OptionDefinition {
  /** Key in the config file (and in `--print-config`). */
  key: string;
  /** The flag without `--`; absent for a setting kept out of the command line (a secret). */
  flag?: string;
  /** The environment variable. */
  env: string;
  /** `list` settings repeat the flag, separate values with commas in the variable, and are a YAML list in the file. */
  kind: "string" | "list";
  /** Placeholder of the value in the help text. */
  placeholder: string;
  /** What the setting does, one short line. */
  help: string;
  /** The default, as documentation. */
  defaultText: string;
  /** A file path: relative paths in the config file are relative to that file. */
  path?: boolean;
  /** Masked by `--print-config`. */
  secret?: boolean;
}

/** Every setting of `tessera serve`, in the order of the help text. */
export const SERVE_OPTIONS = [
  { key: "host", flag: "host", env: "TESSERA_HOST", kind: "string", placeholder: "HOST", help: "interface to listen on", defaultText: "127.0.0.1" },
  { key: "port", flag: "port", env: "TESSERA_PORT", kind: "string", placeholder: "PORT", help: "port, 0-65535 (0: any free port)", defaultText: "8080" },
  {
    key: "grpcPort",
    flag: "grpc-port",
    env: "TESSERA_GRPC_PORT",
    kind: "string",
    placeholder: "PORT",
    help: "second port: TokenExchangeService over gRPC only, through @grpc/grpc-js (faster than the main port's gRPC); 0-65535 (0: any free port); TLS as the main port",
    defaultText: "none: gRPC on the main port only",
  },
  {
    key: "publicUrl",
    flag: "public-url",
    env: "TESSERA_PUBLIC_URL",
    kind: "string",
    placeholder: "URL",
    help: "base of issuer and endpoint URLs: {publicUrl}/realms/{realm}",
    defaultText: "http://HOST:PORT, https://HOST:PORT with TLS",
  },
  {
    key: "storage",
    flag: "storage",
    env: "TESSERA_STORAGE",
    kind: "string",
    placeholder: "KIND",
    help: `realm storage: ${STORAGE_KINDS.join(" | ")}`,
    defaultText: "mongodb when a MongoDB URI is set, else memory",
  },
  { key: "mongodbUri", flag: "mongodb-uri", env: "MONGODB_URI", kind: "string", placeholder: "URI", help: "MongoDB connection string", defaultText: "", secret: true },
  { key: "mongodbDatabase", flag: "mongodb-database", env: "TESSERA_MONGODB_DATABASE", kind: "string", placeholder: "NAME", help: "MongoDB database", defaultText: "tessera" },
  {
    key: "mongodbTimeout",
    flag: "mongodb-timeout",
    env: "TESSERA_MONGODB_TIMEOUT",
    kind: "string",
    placeholder: "DURATION",
    help: "how long a request waits for MongoDB (a reachable server, a connection, each reply), 100ms-1m; then it answers 503 temporarily_unavailable / UNAVAILABLE",
    defaultText: "5s",
  },
  {
    key: "imports",
    flag: "import",
    env: "TESSERA_IMPORTS",
    kind: "list",
    placeholder: "FILE",
    help: "realm file (YAML or JSON) to import at start; repeatable",
    defaultText: "the demo realm, with memory storage",
    path: true,
  },
  {
    key: "workers",
    flag: "workers",
    env: "TESSERA_WORKERS",
    kind: "string",
    placeholder: "N",
    help: "processes serving the same port(s), 1-256 (node:cluster); more than 1 needs MongoDB storage",
    defaultText: "1",
  },
  { key: "logLevel", flag: "log-level", env: "TESSERA_LOG_LEVEL", kind: "string", placeholder: "LEVEL", help: LOG_LEVELS.join(" | "), defaultText: "info" },
  {
    key: "logFormat",
    flag: "log-format",
    env: "TESSERA_LOG_FORMAT",
    kind: "string",
    placeholder: "FORMAT",
    help: `${LOG_FORMATS.join(" | ")}: json writes one JSON object a line on stdout (banner and shutdown included), pretty human-readable lines; auto is pretty when stdout is a terminal, else json`,
    defaultText: "auto",
  },
  {
    key: "tlsCert",
    flag: "tls-cert",
    env: "TESSERA_TLS_CERT",
    kind: "string",
    placeholder: "FILE",
    help: "PEM certificate chain: serve HTTPS and gRPC over TLS (h2, http/1.1); reloaded on change",
    defaultText: "none: cleartext HTTP/1.1 and h2c",
    path: true,
  },
  { key: "tlsKey", flag: "tls-key", env: "TESSERA_TLS_KEY", kind: "string", placeholder: "FILE", help: "PEM private key of --tls-cert", defaultText: "", path: true },
  {
    key: "tlsClientCa",
    flag: "tls-client-ca",
    env: "TESSERA_TLS_CLIENT_CA",
    kind: "string",
    placeholder: "FILE",
    help: "PEM CA certificates: ask for client certificates (RFC 8705 tls_client_auth, certificate-bound tokens)",
    defaultText: "none: no client certificates",
    path: true,
  },
  {
    key: "shutdownGrace",
    flag: "shutdown-grace",
    env: "TESSERA_SHUTDOWN_GRACE",
    kind: "string",
    placeholder: "DURATION",
    help: "on SIGTERM, how long in-flight requests may finish (e.g. 500ms, 10s, 1m)",
    defaultText: "10s",
  },
  {
    key: "headerTimeout",
    flag: "header-timeout",
    env: "TESSERA_HEADER_TIMEOUT",
    kind: "string",
    placeholder: "DURATION",
    help: "time a client has to send a request's headers (and the TLS handshake, HTTP/2's first stream) before its connection is closed; HTTP/1.1 gets 408",
    defaultText: "10s",
  },
  {
    key: "requestTimeout",
    flag: "request-timeout",
    env: "TESSERA_REQUEST_TIMEOUT",
    kind: "string",
    placeholder: "DURATION",
    help: "time a client has to send a whole request, headers and body; then 408 (HTTP/2: the stream only)",
    defaultText: "30s",
  },
  {
    key: "idleTimeout",
    flag: "idle-timeout",
    env: "TESSERA_IDLE_TIMEOUT",
    kind: "string",
    placeholder: "DURATION",
    help: "a connection with no request in flight is closed after this long (HTTP/1.1 keep-alive, HTTP/2 GOAWAY; --grpc-port: grpc.max_connection_idle_ms)",
    defaultText: "65s",
  },
  {
    key: "maxConnections",
    flag: "max-connections",
    env: "TESSERA_MAX_CONNECTIONS",
    kind: "string",
    placeholder: "N",
    help: "open connections per port and process; a connection beyond it is closed at once",
    defaultText: "4096",
  },
  {
    key: "maxConnectionsPerSource",
    flag: "max-connections-per-source",
    env: "TESSERA_MAX_CONNECTIONS_PER_SOURCE",
    kind: "string",
    placeholder: "N",
    help: "open connections per port and process from one source address (behind a proxy: the proxy's); beyond it closed at once",
    defaultText: "256",
  },
  {
    key: "maxConcurrentStreams",
    flag: "max-concurrent-streams",
    env: "TESSERA_MAX_CONCURRENT_STREAMS",
    kind: "string",
    placeholder: "N",
    help: "HTTP/2 streams open at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused (REFUSED_STREAM)",
    defaultText: "100",
  },
  {
    key: "maxHeaderSize",
    flag: "max-header-size",
    env: "TESSERA_MAX_HEADER_SIZE",
    kind: "string",
    placeholder: "BYTES",
    help: "size of a request's headers, 1024-1048576 bytes; HTTP/1.1: larger gets 431; HTTP/2: advertised as SETTINGS_MAX_HEADER_LIST_SIZE and a larger header list (name + value + 32 per field) gets 431",
    defaultText: "16384",
  },
  {
    key: "tokenClockSkew",
    flag: "token-clock-skew",
    env: "TESSERA_TOKEN_CLOCK_SKEW",
    kind: "string",
    placeholder: "DURATION",
    help: "leeway on exp and nbf of Tessera's own tokens, at most 5m (one clock issues and checks them: raise it only for instances whose clocks differ); other issuers' tokens keep 30s",
    defaultText: "0s",
  },
  {
    key: "authThrottle",
    flag: "auth-throttle",
    env: "TESSERA_AUTH_THROTTLE",
    kind: "string",
    placeholder: "on|off",
    help: "throttle failed client authentication and AdminService bearer tokens per (realm, client, source address) and per source address: 429 / RESOURCE_EXHAUSTED with Retry-After; counters per process",
    defaultText: "on",
  },
  {
    key: "authThrottleClientFailures",
    flag: "auth-throttle-client-failures",
    env: "TESSERA_AUTH_THROTTLE_CLIENT_FAILURES",
    kind: "string",
    placeholder: "N",
    help: "failures of one client from one source address before back-off, 1-1000; a success resets them",
    defaultText: "5",
  },
  {
    key: "authThrottleAddressFailures",
    flag: "auth-throttle-address-failures",
    env: "TESSERA_AUTH_THROTTLE_ADDRESS_FAILURES",
    kind: "string",
    placeholder: "N",
    help: "failures from one source address (any realm or client) before back-off, 0-100000 (0: no per-address limit, e.g. behind a proxy)",
    defaultText: "20",
  },
  {
    key: "authThrottleBackoff",
    flag: "auth-throttle-backoff",
    env: "TESSERA_AUTH_THROTTLE_BACKOFF",
    kind: "string",
    placeholder: "DURATION",
    help: "first back-off once a limit is reached, doubled at each further failure",
    defaultText: "1s",
  },
  {
    key: "authThrottleMaxBackoff",
    flag: "auth-throttle-max-backoff",
    env: "TESSERA_AUTH_THROTTLE_MAX_BACKOFF",
    kind: "string",
    placeholder: "DURATION",
    help: "longest back-off",
    defaultText: "5m",
  },
  {
    key: "authThrottleWindow",
    flag: "auth-throttle-window",
    env: "TESSERA_AUTH_THROTTLE_WINDOW",
    kind: "string",
    placeholder: "DURATION",
    help: "failures are forgotten this long after the last one",
    defaultText: "15m",
  },
  {
    key: "corsOrigins",
    flag: "cors-origin",
    env: "TESSERA_CORS_ORIGINS",
    kind: "list",
    placeholder: "ORIGIN",
    help: "browser origin allowed by CORS (https://app.example.com, or *); repeatable",
    defaultText: "none: CORS off",
  },
  {
    key: "masterKey",
    env: "TESSERA_MASTER_KEY",
    kind: "string",
    placeholder: "KEY",
    help: "32 random bytes, base64, that encrypt signing keys at rest (openssl rand -base64 32); required with MongoDB",
    defaultText: "an ephemeral key (memory storage only)",
    secret: true,
  },
  {
    key: "bootstrapAdminClientId",
    env: "TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID",
    kind: "string",
    placeholder: "ID",
    help: "client id of the admin client created in the master realm on a first start (with TESSERA_BOOTSTRAP_ADMIN_SECRET)",
    defaultText: "admin",
  },
  {
    key: "bootstrapAdminSecret",
    env: "TESSERA_BOOTSTRAP_ADMIN_SECRET",
    kind: "string",
    placeholder: "SECRET",
    help: "secret of that admin client; without it, memory storage generates one and prints it once, MongoDB storage creates none",
    defaultText: "none",
    secret: true,
  },
] as const satisfies readonly OptionDefinition[];

/** A key of {@link SERVE_OPTIONS}. */
export type OptionKey = (typeof SERVE_OPTIONS)[number]["key"];

/** The flags that are not settings: actions, and where the config file is. */
const ACTION_FLAGS = [
  { flag: "config", placeholder: "FILE", help: "read settings from this YAML file (its keys: the config file keys)", env: "TESSERA_CONFIG" },
  { flag: "print-config", placeholder: "", help: "print the effective configuration, secrets masked, and exit", env: "" },
  { flag: "help", placeholder: "", help: "print this help and exit (also -h)", env: "" },
] as const;

/** The `node:util` parseArgs options of `tessera serve`. */
export const PARSE_ARGS_OPTIONS = Object.fromEntries([
  ...SERVE_OPTIONS.filter((o): o is Extract<(typeof SERVE_OPTIONS)[number], { flag: string }> => "flag" in o).map((o) => [
    o.flag,
    o.kind === "list" ? { type: "string", multiple: true } : { type: "string" },
  ]),
  ["config", { type: "string" }],
  ["print-config", { type: "boolean" }],
  ["help", { type: "boolean", short: "h" }],
]) as Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

function flagColumn(flag: string | undefined, placeholder: string): string {
  return flag === undefined ? "" : `--${flag}${placeholder ? ` ${placeholder}` : ""}`;
}

/** One entry of the help text: the flag and its variable, then what it does and its default. */
function usageEntry(left: string, env: string, help: string, defaultText: string): string[] {
  const head = `  ${left.padEnd(30)}${env}`.trimEnd();
  return [head, `        ${help}${defaultText ? ` (default ${defaultText})` : ""}`];
}

/** The help text of `tessera serve`, generated from {@link SERVE_OPTIONS}. */
export function serveUsage(): string {
  const lines = [
    "Usage: tessera serve [options]",
    "",
    "Serves Tessera (gRPC, gRPC-Web, Connect and OAuth 2.0 HTTP) on one port.",
    "Each setting is a flag, an environment variable or a key of the --config file;",
    "a flag wins over its variable, a variable over the file, the file over the default.",
    "",
  ];
  for (const option of SERVE_OPTIONS) {
    const flag = "flag" in option ? option.flag : undefined;
    const left = flag === undefined ? "(no flag: variable or file)" : flagColumn(flag, option.placeholder);
    lines.push(...usageEntry(left, option.env, option.help, option.defaultText));
  }
  lines.push("");
  for (const action of ACTION_FLAGS) lines.push(...usageEntry(flagColumn(action.flag, action.placeholder), action.env, action.help, ""));
  lines.push("", `Config file keys (YAML): ${SERVE_OPTIONS.map((o) => o.key).join(", ")}.`, "");
  return lines.join("\n");
}

/** The Markdown table of every setting, for docs/operations.md (`npm run docs:config`). */
export function configReferenceTable(): string {
  const code = (text: string) => (text ? `\`${text}\`` : "");
  const rows = [
    "| flag | environment | config file key | default | what |",
    "|---|---|---|---|---|",
    ...SERVE_OPTIONS.map((o) => {
      const flag = "flag" in o ? o.flag : undefined;
      const what = `${o.help}${o.kind === "list" ? " (variable: comma-separated; file: a list)" : ""}`;
      return `| ${flag === undefined ? "(none: kept off the command line)" : code(flagColumn(flag, o.placeholder))} | ${code(o.env)} | ${code(o.key)} | ${o.defaultText} | ${what.replaceAll("|", "\\|")} |`;
    }),
    ...ACTION_FLAGS.map((a) => `| ${code(flagColumn(a.flag, a.placeholder))} | ${code(a.env)} | | | ${a.help} |`),
  ];
  return rows.join("\n");
}
