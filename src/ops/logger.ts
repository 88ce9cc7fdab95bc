import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger };

/** How log lines are written: one JSON object a line, or human-readable lines (pino-pretty). */
export type LogFormat = "json" | "pretty";

/** `--log-format auto`: pretty when stdout is a terminal (a person reads it), JSON otherwise (a collector does). */
export function resolveLogFormat(setting: LogFormat | "auto", stdout: { isTTY?: boolean } = process.stdout): LogFormat {
  if (setting !== "auto") return setting;
  return stdout.isTTY === true ? "pretty" : "json";
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Default `info`. */
  level?: LevelWithSilent;
  /** Where lines go; default stdout. */
  destination?: NodeJS.WritableStream;
  /** Fields added to every line (the composition root passes the current request's id and trace ids). */
  mixin?: () => Record<string, unknown>;
  /** Default `json`. */
  format?: LogFormat;
}

/**
 * Creates the structured logger: JSON lines, or pino-pretty's human-readable lines (colours when
 * the destination is a terminal). Tokens and secrets are never passed to it; as a second line of
 * defence, fields with those names are redacted.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = "info", destination, mixin, format = "json" } = options;
  return pino(
    {
      level,
      base: { service: "tessera" },
      ...(mixin && { mixin }),
      redact: {
        paths: ["*.secret", "*.client_secret", "*.clientSecret", "*.token", "*.access_token", "*.client_assertion", "*.authorization"],
        censor: "[redacted]",
      },
    },
    format === "pretty" ? prettyStream(destination) : (destination ?? pino.destination({ dest: 1, sync: true })),
  );
}

function prettyStream(destination: NodeJS.WritableStream | undefined): DestinationStream {
  const target = destination ?? process.stdout;
  return PinoPretty({
    destination: target,
    sync: true,
    colorize: (target as { isTTY?: boolean }).isTTY === true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,service",
    singleLine: true,
  });
}
