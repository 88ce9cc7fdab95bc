import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * Creates the structured JSON logger. Tokens and secrets are never passed to it; as a second
 * line of defence, fields with those names are redacted. `mixin` adds fields to every line (the
 * composition root passes the current request's id).
 */
export function createLogger(
  level: LevelWithSilent = "info",
  destination?: NodeJS.WritableStream,
  mixin?: () => Record<string, unknown>,
): Logger {
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
    destination ?? pino.destination(2),
  );
}
