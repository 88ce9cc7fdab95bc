import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { ConfigError, parseServeConfig, SERVE_USAGE, type ServeConfig, type ServeSettings } from "../../src/config/serve-config.js";

/** The connection and request limits `tessera serve` starts with. */
const DEFAULT_LIMITS = {
  headerTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 65_000,
  maxConnections: 4096,
  maxConnectionsPerSource: 256,
  maxConcurrentStreams: 100,
  maxHeaderBytes: 16_384,
};

/** Parses and asserts the result is settings, not a help request. */
function settings(argv: string[], env: NodeJS.ProcessEnv = {}): ServeSettings {
  const config: ServeConfig = parseServeConfig(argv, env);
  assert.equal(config.help, false);
  return config as ServeSettings;
}

/** Asserts a one-line ConfigError equal to `expected` (string) or matching it (RegExp). */
function assertConfigError(argv: string[], env: NodeJS.ProcessEnv, expected: string | RegExp): string {
  let caught: unknown;
  try {
    parseServeConfig(argv, env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.ok(!caught.message.includes("\n"), "one line");
  if (typeof expected === "string") assert.equal(caught.message, expected);
  else assert.match(caught.message, expected);
  return caught.message;
}

describe("parseServeConfig defaults", () => {
  it("listens on 127.0.0.1:8080 with memory storage and info logs", () => {
    assert.deepEqual(settings([]), {
      help: false,
      printConfig: false,
      host: "127.0.0.1",
      port: 8080,
      grpcPort: undefined,
      workers: 1,
      publicUrl: "http://127.0.0.1:8080",
      storage: { kind: "memory" },
      mongodbTimeoutMs: 5000,
      imports: [],
      logLevel: "info",
      logFormat: "auto",
      masterKey: undefined,
      tls: undefined,
      limits: DEFAULT_LIMITS,
      shutdownGraceMs: 10_000,
      tokenClockSkewSeconds: 0,
      authThrottle: { enabled: true, clientFailures: 5, addressFailures: 20, initialBackoffMs: 1000, maxBackoffMs: 300_000, windowMs: 900_000 },
      corsOrigins: [],
      bootstrapAdmin: {},
      sources: {},
    });
  });

  it("derives the public URL from host and port, bracketing IPv6", () => {
    assert.equal(settings(["--host", "0.0.0.0", "--port", "9000"]).publicUrl, "http://0.0.0.0:9000");
    assert.equal(settings(["--host", "::1"]).publicUrl, "http://[::1]:8080");
  });

  it("chooses mongodb when a MongoDB URI is set, with database tessera", () => {
    assert.deepEqual(settings([], { MONGODB_URI: "mongodb://db:27017" }).storage, {
      kind: "mongodb",
      uri: "mongodb://db:27017",
      database: "tessera",
    });
    assert.deepEqual(settings(["--mongodb-uri", "mongodb+srv://cluster.example.net"]).storage, {
      kind: "mongodb",
      uri: "mongodb+srv://cluster.example.net",
      database: "tessera",
    });
  });

  it("treats an empty variable as unset", () => {
    assert.deepEqual(settings([], { TESSERA_PORT: "", MONGODB_URI: "", TESSERA_MASTER_KEY: "" }), settings([]));
  });

  it("answers --help with a help request, whatever else is wrong", () => {
    assert.deepEqual(parseServeConfig(["--help"], { TESSERA_PORT: "abc" }), { help: true });
    for (const flag of [
      "--host",
      "--port",
      "--grpc-port",
      "--public-url",
      "--storage",
      "--mongodb-uri",
      "--mongodb-database",
      "--import",
      "--log-level",
    ]) {
      assert.ok(SERVE_USAGE.includes(flag), flag);
    }
    for (const variable of [
      "TESSERA_HOST",
      "TESSERA_PORT",
      "TESSERA_GRPC_PORT",
      "TESSERA_PUBLIC_URL",
      "TESSERA_STORAGE",
      "MONGODB_URI",
      "TESSERA_MONGODB_DATABASE",
      "TESSERA_LOG_LEVEL",
      "TESSERA_MASTER_KEY",
    ]) {
      assert.ok(SERVE_USAGE.includes(variable), variable);
    }
  });
});

describe("parseServeConfig connection and request limits", () => {
  it("reads each limit from its flag or variable", () => {
    const argv = ["--header-timeout", "500ms", "--request-timeout", "2s", "--idle-timeout", "1m", "--max-connections", "10"];
    const env = { TESSERA_MAX_CONNECTIONS_PER_SOURCE: "3", TESSERA_MAX_CONCURRENT_STREAMS: "8", TESSERA_MAX_HEADER_SIZE: "4096" };
    assert.deepEqual(settings(argv, env).limits, {
      headerTimeoutMs: 500,
      requestTimeoutMs: 2000,
      idleTimeoutMs: 60_000,
      maxConnections: 10,
      maxConnectionsPerSource: 3,
      maxConcurrentStreams: 8,
      maxHeaderBytes: 4096,
    });
  });

  it("refuses a zero timeout, a count below 1 and a header size out of range, naming the setting", () => {
    assertConfigError(["--header-timeout", "0s"], {}, '--header-timeout: expected a duration of at least 1ms, got "0s"');
    assertConfigError(["--max-connections", "0"], {}, '--max-connections: expected an integer 1-1000000, got "0"');
    assertConfigError([], { TESSERA_MAX_CONCURRENT_STREAMS: "many" }, 'TESSERA_MAX_CONCURRENT_STREAMS: expected an integer 1-1000000, got "many"');
    assertConfigError(["--max-header-size", "100"], {}, '--max-header-size: expected an integer 1024-1048576, got "100"');
  });
});

describe("parseServeConfig values and precedence", () => {
  const env: NodeJS.ProcessEnv = {
    TESSERA_HOST: "10.0.0.1",
    TESSERA_PORT: "7000",
    TESSERA_PUBLIC_URL: "https://env.example.com/",
    TESSERA_STORAGE: "memory",
    MONGODB_URI: "mongodb://env-db",
    TESSERA_MONGODB_DATABASE: "envdb",
    TESSERA_LOG_LEVEL: "warn",
  };

  it("reads every variable", () => {
    const config = settings([], env);
    assert.equal(config.host, "10.0.0.1");
    assert.equal(config.port, 7000);
    assert.equal(config.publicUrl, "https://env.example.com");
    assert.deepEqual(config.storage, { kind: "memory" });
    assert.equal(config.logLevel, "warn");
    assert.deepEqual(settings([], { ...env, TESSERA_STORAGE: "mongodb" }).storage, {
      kind: "mongodb",
      uri: "mongodb://env-db",
      database: "envdb",
    });
  });

  it("lets each flag win over its variable", () => {
    const argv = [
      "--host=192.168.1.1",
      "--port",
      "0",
      "--public-url",
      "https://sts.example.com/tessera/",
      "--storage",
      "mongodb",
      "--mongodb-uri",
      "mongodb://flag-db",
      "--mongodb-database",
      "flagdb",
      "--log-level",
      "debug",
    ];
    const { sources, ...rest } = settings(argv, env);
    assert.deepEqual(rest, {
      help: false,
      printConfig: false,
      host: "192.168.1.1",
      port: 0,
      grpcPort: undefined,
      workers: 1,
      publicUrl: "https://sts.example.com/tessera",
      storage: { kind: "mongodb", uri: "mongodb://flag-db", database: "flagdb" },
      mongodbTimeoutMs: 5000,
      imports: [],
      logLevel: "debug",
      logFormat: "auto",
      masterKey: undefined,
      tls: undefined,
      limits: DEFAULT_LIMITS,
      shutdownGraceMs: 10_000,
      tokenClockSkewSeconds: 0,
      authThrottle: { enabled: true, clientFailures: 5, addressFailures: 20, initialBackoffMs: 1000, maxBackoffMs: 300_000, windowMs: 900_000 },
      corsOrigins: [],
      bootstrapAdmin: {},
    });
    assert.equal(sources.port, "--port");
    assert.equal(sources.mongodbUri, "--mongodb-uri");
  });

  it("keeps --storage memory even when a MongoDB URI is set", () => {
    assert.deepEqual(settings(["--storage", "memory"], { MONGODB_URI: "mongodb://db" }).storage, { kind: "memory" });
  });

  it("collects --import files in order", () => {
    assert.deepEqual(settings(["--import", "a.yaml", "--import=b.json"]).imports, ["a.yaml", "b.json"]);
  });

  it("decodes a base64 or base64url master key of 32 bytes", () => {
    const key = randomBytes(32);
    for (const encoded of [key.toString("base64"), key.toString("base64url"), `${key.toString("base64")}\n`]) {
      const { masterKey } = settings([], { TESSERA_MASTER_KEY: encoded });
      assert.ok(masterKey instanceof Uint8Array);
      assert.deepEqual(Buffer.from(masterKey), key);
    }
  });
});

describe("parseServeConfig errors", () => {
  it("refuses an unknown flag", () => {
    assertConfigError(["--prot", "80"], {}, "unknown option --prot (see tessera serve --help)");
    assertConfigError(["-p"], {}, "unknown option -p (see tessera serve --help)");
  });

  it("refuses a flag without its value, and a value on --help", () => {
    assertConfigError(["--port"], {}, /^--port: expected a value/);
    assertConfigError(["--host", "--port", "1"], {}, /^--host: expected a value/);
    assertConfigError(["--help=yes"], {}, "--help: expected no value");
  });

  it("refuses a positional argument without echoing it", () => {
    const message = assertConfigError(["mongodb://user:pw@db"], {}, /^unexpected argument/);
    assert.ok(!message.includes("pw@db"));
  });

  it("refuses a bad port from the flag or the variable, naming which", () => {
    assertConfigError(["--port", "abc"], {}, '--port: expected an integer 0-65535, got "abc"');
    assertConfigError(["--port", "65536"], {}, '--port: expected an integer 0-65535, got "65536"');
    assertConfigError(["--port", "-1"], {}, /^--port: expected a value/);
    assertConfigError(["--port=-1"], {}, '--port: expected an integer 0-65535, got "-1"');
    assertConfigError([], { TESSERA_PORT: "80.5" }, 'TESSERA_PORT: expected an integer 0-65535, got "80.5"');
  });

  it("reads --grpc-port (off by default) from the flag, the variable or the file, validated like --port", () => {
    assert.equal(settings([]).grpcPort, undefined);
    assert.equal(settings(["--grpc-port", "9090"]).grpcPort, 9090);
    assert.equal(settings([], { TESSERA_GRPC_PORT: "9091" }).grpcPort, 9091);
    assert.equal(settings(["--grpc-port=9092"], { TESSERA_GRPC_PORT: "9091" }).sources.grpcPort, "--grpc-port");
    assert.equal(settings(["--port", "0", "--grpc-port", "0"]).grpcPort, 0, "both on any free port");
    assertConfigError(["--grpc-port", "65536"], {}, '--grpc-port: expected an integer 0-65535, got "65536"');
    assertConfigError([], { TESSERA_GRPC_PORT: "grpc" }, 'TESSERA_GRPC_PORT: expected an integer 0-65535, got "grpc"');
    assertConfigError(["--grpc-port", "8080"], {}, '--grpc-port: expected a port other than the main port 8080, got "8080"');
  });

  it("reads --workers (1 by default) from the flag, the variable or the file; more than 1 only with MongoDB storage", () => {
    const mongo = { MONGODB_URI: "mongodb://db" };
    assert.equal(settings([]).workers, 1);
    assert.equal(settings(["--workers", "4"], mongo).workers, 4);
    assert.equal(settings([], { ...mongo, TESSERA_WORKERS: "3" }).workers, 3);
    assert.equal(settings(["--workers", "1", "--storage", "memory"]).workers, 1);
    assertConfigError(["--workers", "2"], {}, "--workers: more than 1 needs MongoDB storage (memory storage lives in one process)");
    assertConfigError(["--workers", "0"], mongo, '--workers: expected an integer 1-256, got "0"');
    assertConfigError(["--workers", "257"], mongo, '--workers: expected an integer 1-256, got "257"');
    assertConfigError([], { ...mongo, TESSERA_WORKERS: "two" }, 'TESSERA_WORKERS: expected an integer 1-256, got "two"');
  });

  it("refuses an empty or blank host", () => {
    assertConfigError(["--host="], {}, '--host: expected a host name or IP address, got ""');
    assertConfigError([], { TESSERA_HOST: "a b" }, /^TESSERA_HOST: expected a host name/);
  });

  it("refuses a public URL that is not an absolute http(s) URL fit for an issuer", () => {
    for (const url of [
      "sts.example.com",
      "ftp://sts.example.com",
      "https://sts.example.com/?a=1",
      "https://sts.example.com/#x",
      "https://u:p@sts.example.com",
    ]) {
      assertConfigError(
        ["--public-url", url],
        {},
        /^--public-url: expected an absolute http\(s\) URL without credentials, query or fragment/,
      );
    }
    assertConfigError(
      [],
      { TESSERA_PUBLIC_URL: "/relative" },
      /^TESSERA_PUBLIC_URL: expected an absolute http\(s\) URL/,
    );
  });

  it("refuses an unknown storage and log level", () => {
    assertConfigError(["--storage", "redis"], {}, '--storage: expected one of memory | mongodb, got "redis"');
    assertConfigError([], { TESSERA_STORAGE: "sql" }, 'TESSERA_STORAGE: expected one of memory | mongodb, got "sql"');
    assertConfigError(
      ["--log-level", "verbose"],
      {},
      '--log-level: expected one of fatal | error | warn | info | debug | trace | silent, got "verbose"',
    );
    assertConfigError([], { TESSERA_LOG_LEVEL: "INFO" }, /^TESSERA_LOG_LEVEL: expected one of/);
  });

  it("refuses mongodb storage without a URI", () => {
    assertConfigError(["--storage", "mongodb"], {}, "--storage: mongodb expects --mongodb-uri or MONGODB_URI");
    assertConfigError(
      [],
      { TESSERA_STORAGE: "mongodb" },
      "TESSERA_STORAGE: mongodb expects --mongodb-uri or MONGODB_URI",
    );
  });

  it("refuses a MongoDB URI of another scheme without echoing it", () => {
    const message = assertConfigError(
      [],
      { MONGODB_URI: "postgres://user:hunter2@db" },
      "MONGODB_URI: expected a mongodb:// or mongodb+srv:// connection string",
    );
    assert.ok(!message.includes("hunter2"));
    assertConfigError(["--mongodb-uri", "http://db"], {}, /^--mongodb-uri: expected a mongodb:\/\//);
  });

  it("refuses a MongoDB database name MongoDB would refuse", () => {
    assertConfigError(
      ["--mongodb-uri", "mongodb://db", "--mongodb-database", "a.b"],
      {},
      /^--mongodb-database: expected a MongoDB database name/,
    );
    assertConfigError(
      [],
      { MONGODB_URI: "mongodb://db", TESSERA_MONGODB_DATABASE: "x".repeat(64) },
      /^TESSERA_MONGODB_DATABASE: expected/,
    );
  });

  it("refuses an empty --import", () => {
    assertConfigError(["--import="], {}, "--import: expected a file path");
  });

  it("reads the bootstrap admin client from its variables; an id without a secret or a short secret is refused, never echoed", () => {
    const secret = "s3cret-s3cret-s3cret";
    assert.deepEqual(settings([], { TESSERA_BOOTSTRAP_ADMIN_SECRET: secret }).bootstrapAdmin, { secret });
    assert.deepEqual(settings([], { TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID: "ops", TESSERA_BOOTSTRAP_ADMIN_SECRET: secret }).bootstrapAdmin, {
      clientId: "ops",
      secret,
    });
    assert.throws(() => settings([], { TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID: "ops" }), /TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID: .*no default password/);
    assert.throws(
      () => settings([], { TESSERA_BOOTSTRAP_ADMIN_SECRET: "short-one" }),
      (error: Error) => /TESSERA_BOOTSTRAP_ADMIN_SECRET: expected at least 16/.test(error.message) && !error.message.includes("short-one"),
    );
  });

  it("takes --token-clock-skew as a duration up to 5m, in seconds, and refuses more", () => {
    assert.equal(settings(["--token-clock-skew", "5s"]).tokenClockSkewSeconds, 5);
    assert.equal(settings([], { TESSERA_TOKEN_CLOCK_SKEW: "1500ms" }).tokenClockSkewSeconds, 1.5);
    assert.equal(settings(["--token-clock-skew", "5m"]).tokenClockSkewSeconds, 300);
    assertConfigError(["--token-clock-skew", "6m"], {}, '--token-clock-skew: expected at most 5m (a skew, not a lifetime), got "6m"');
    assertConfigError(["--token-clock-skew", "soon"], {}, /^--token-clock-skew: expected a duration/);
  });

  it("takes the --auth-throttle settings and refuses bad ones", () => {
    assert.deepEqual(
      settings(["--auth-throttle-client-failures", "3", "--auth-throttle-backoff", "250ms", "--auth-throttle-max-backoff", "1m"], {
        TESSERA_AUTH_THROTTLE_ADDRESS_FAILURES: "0",
        TESSERA_AUTH_THROTTLE_WINDOW: "5m",
      }).authThrottle,
      { enabled: true, clientFailures: 3, addressFailures: 0, initialBackoffMs: 250, maxBackoffMs: 60_000, windowMs: 300_000 },
    );
    assert.equal(settings([], { TESSERA_AUTH_THROTTLE: "off" }).authThrottle.enabled, false);
    assertConfigError(["--auth-throttle", "yes"], {}, '--auth-throttle: expected one of on | off, got "yes"');
    assertConfigError(["--auth-throttle-client-failures", "0"], {}, '--auth-throttle-client-failures: expected an integer 1-1000, got "0"');
    assertConfigError(["--auth-throttle-address-failures", "-1"], {}, /^--auth-throttle-address-failures: expected/);
    assertConfigError(["--auth-throttle-backoff", "10m"], {}, '--auth-throttle-backoff: expected at most the longest back-off (300000 ms), got "10m"');
  });

  it("refuses a master key that is not 32 bytes of base64, never echoing it", () => {
    for (const value of [
      randomBytes(16).toString("base64"),
      randomBytes(33).toString("base64"),
      "not*base64*at*all-but-long-enough-to-be-43ch",
      "passw0rd",
    ]) {
      const message = assertConfigError(
        [],
        { TESSERA_MASTER_KEY: value },
        /^TESSERA_MASTER_KEY: expected 32 bytes in base64 or base64url/,
      );
      assert.ok(!message.includes(value));
    }
  });
});
