import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * Creates the structured JSON logger. Tokens and secrets are never passed to it; as a second
 * line of defence, fields with those names are redacted.
 */
export function createLogger(level: LevelWithSilent = "info", destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "tessera" },
      redact: {
        paths: ["*.secret", "*.client_secret", "*.clientSecret", "*.token", "*.access_token", "*.client_assertion", "*.authorization"],
        censor: "[redacted]",
      },
    },
    destination ?? pino.destination(2),
  );
}
