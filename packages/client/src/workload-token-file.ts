import { readFile, stat } from "node:fs/promises";
import type { TokenSource } from "./outgoing/downstream-token.js";

/**
 * A subject token read from a file, as a Kubernetes projected service-account token or a CI OIDC token is
 * handed to a workload. The file is read again whenever its modification time or size changes (a rotated
 * token), so each exchange uses the token on disk. Surrounding whitespace is trimmed.
 */
export function workloadTokenFile(path: string): TokenSource {
  let seen: { version: string; token: string } | undefined;
  return async () => {
    const stats = await stat(path);
    const version = `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
    if (seen?.version !== version) seen = { version, token: (await readFile(path, "utf8")).trim() };
    return seen.token || undefined;
  };
}
