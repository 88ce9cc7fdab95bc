import { type HttpResponse, writeHead } from "./node-types.js";

/** Headers of token endpoint answers and errors (RFC 6749 §5.1): never cached. */
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;

/** Options of {@link sendJson}. */
export interface JsonResponseOptions {
  headers?: Record<string, string>;
  /** Public documents (JWKS, metadata) may be cached this many seconds; others are no-store. */
  maxAgeSeconds?: number;
}

/** Writes a JSON body with its status; unless `maxAgeSeconds` is set the answer is never cached. */
export function sendJson(res: HttpResponse, status: number, body: unknown, options: JsonResponseOptions = {}): void {
  const payload = JSON.stringify(body);
  const caching = options.maxAgeSeconds === undefined ? NO_STORE : { "cache-control": `public, max-age=${options.maxAgeSeconds}` };
  writeHead(res, status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    ...caching,
    ...options.headers,
  });
  res.end(payload);
}
