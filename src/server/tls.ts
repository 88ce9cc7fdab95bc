import { readFileSync, unwatchFile, watchFile, type Stats } from "node:fs";
import { createSecureContext } from "node:tls";
import type { TlsFiles } from "../config/serve-config.js";
import type { Logger } from "../ops/logger.js";
import type { TlsCredentials } from "./listen.js";

/** A certificate or key file that cannot be used; the message names the file, never its content. */
export class TlsFileError extends Error {
  override readonly name = "TlsFileError";
}

/**
 * Reads the certificate chain and private key, and checks that they make a usable pair (the
 * same check the TLS server makes), so a bad pair fails at start or is refused at reload.
 */
export function readTlsCredentials(files: TlsFiles): TlsCredentials {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new TlsFileError(`${what} ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
  };
  const credentials = {
    cert: read(files.certFile, "--tls-cert"),
    key: read(files.keyFile, "--tls-key"),
    ...(files.clientCaFile !== undefined && { ca: read(files.clientCaFile, "--tls-client-ca") }),
  };
  try {
    createSecureContext(credentials);
  } catch (error) {
    const reason = (error as { code?: string; reason?: string }).reason ?? (error as Error).message;
    throw new TlsFileError(`--tls-cert ${files.certFile} / --tls-key ${files.keyFile}: not a usable certificate and key (${reason})`);
  }
  return credentials;
}

/** Options of {@link watchTlsCredentials}. */
export interface TlsWatchOptions {
  /** How often the files' status is read, ms. Default 2000. */
  intervalMs?: number;
}

/**
 * Reloads the certificate and key when either file changes (polling their status, which follows
 * symbolic links: Kubernetes Secret volumes swap a link), and hands the new pair to `apply`. A
 * pair that does not load (one file rewritten before the other) is logged and skipped: the
 * server keeps the previous pair until a later change gives a usable one. Returns the function
 * that stops watching.
 */
export function watchTlsCredentials(
  files: TlsFiles,
  apply: (credentials: TlsCredentials) => void,
  log: Logger,
  options: TlsWatchOptions = {},
): () => void {
  const interval = options.intervalMs ?? 2000;
  const reload = () => {
    try {
      apply(readTlsCredentials(files));
      log.info({ certFile: files.certFile, keyFile: files.keyFile }, "TLS certificate reloaded");
    } catch (error) {
      log.warn({ reason: (error as Error).message }, "TLS certificate not reloaded; serving the previous one");
    }
  };
  const onChange = (current: Stats, previous: Stats) => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size) reload();
  };
  const paths = [...new Set([files.certFile, files.keyFile])];
  for (const path of paths) watchFile(path, { interval, persistent: false }, onChange);
  return () => {
    for (const path of paths) unwatchFile(path, onChange);
  };
}
