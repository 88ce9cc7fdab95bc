/**
 * The one table of `tessera serve`'s settings: each has a flag, an environment variable and a key in
 * the config file (`--config`). The help text, the flag parser and docs/operations.md's configuration
 * reference (`npm run docs:config`) are all generated from it.
 */

/** Log levels of `--log-level` (pino's). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

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
    key: "tokenClockSkew",
    flag: "token-clock-skew",
    env: "TESSERA_TOKEN_CLOCK_SKEW",
    kind: "string",
    placeholder: "DURATION",
    help: "leeway on exp and nbf of Tessera's own tokens, at most 5m (one clock issues and checks them: raise it only for instances whose clocks differ); other issuers' tokens keep 30s",
    defaultText: "0s",
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
  { flag: "help", placeholder: "", help: "print this help and exit", env: "" },
] as const;

/** The `node:util` parseArgs options of `tessera serve`. */
export const PARSE_ARGS_OPTIONS = Object.fromEntries([
  ...SERVE_OPTIONS.filter((o): o is Extract<(typeof SERVE_OPTIONS)[number], { flag: string }> => "flag" in o).map((o) => [
    o.flag,
    o.kind === "list" ? { type: "string", multiple: true } : { type: "string" },
  ]),
  ["config", { type: "string" }],
  ["print-config", { type: "boolean" }],
  ["help", { type: "boolean" }],
]) as Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

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
