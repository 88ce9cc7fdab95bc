import { pino, type Logger, type LevelWithSilent } from "pino";
import { requestLogFields } from "./ops/request-context.js";

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
      // Lines written while a request is served carry its id (the `x-request-id` answered).
      mixin: requestLogFields,
      redact: {
        paths: ["*.secret", "*.client_secret", "*.clientSecret", "*.token", "*.access_token", "*.client_assertion", "*.authorization"],
        censor: "[redacted]",
      },
    },
    destination ?? pino.destination(2),
  );
}
