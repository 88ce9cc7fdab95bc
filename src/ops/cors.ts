import { cors as connectCors } from "@connectrpc/connect";
import { type HttpRequest, type HttpResponse, writeHead } from "../http/node-types.js";

/** Header names (case-insensitive) as one lower-case list, each once. */
function headerList(names: string[]): string {
  return [...new Set(names.map((name) => name.toLowerCase()))].join(", ");
}

/** Headers a browser script may send: Connect's and gRPC-Web's, HTTP Basic client authentication, the request id. */
const ALLOWED_HEADERS = headerList([...connectCors.allowedHeaders, "authorization", "x-request-id"]);
/** Headers a browser script may read: gRPC-Web status and details, the Basic challenge, the request id. */
const EXPOSED_HEADERS = headerList([...connectCors.exposedHeaders, "www-authenticate", "x-request-id"]);
const ALLOWED_METHODS = [...new Set([...connectCors.allowedMethods, "GET", "POST"])].join(", ");
/** How long a browser may cache a preflight answer, seconds. */
const PREFLIGHT_MAX_AGE = "7200";

/** Answers CORS for a request; returns true when it answered the request itself (a preflight). */
export type CorsHandler = (req: HttpRequest, res: HttpResponse) => boolean;

/**
 * CORS (the Fetch standard's CORS protocol) for the OAuth endpoints and the Connect and gRPC-Web
 * protocols, for the given origins (`*`: any). No credentials mode: browsers send no cookies, and a
 * client authenticates with an explicit `Authorization` header or form parameters, so
 * `Access-Control-Allow-Credentials` is never sent. Returns undefined when no origin is allowed
 * (CORS off: no CORS header is ever sent).
 */
export function createCors(origins: readonly string[]): CorsHandler | undefined {
  if (origins.length === 0) return undefined;
  const any = origins.includes("*");
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin !== "string") return false;
    res.setHeader("vary", "origin");
    const allow = any || allowed.has(origin);
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (allow) res.setHeader("access-control-allow-origin", any ? "*" : origin);
    if (!preflight) {
      if (allow) res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
      return false;
    }
    // A preflight is answered here for every path; without the allow headers the browser refuses.
    if (allow) {
      res.setHeader("access-control-allow-methods", ALLOWED_METHODS);
      res.setHeader("access-control-allow-headers", ALLOWED_HEADERS);
      res.setHeader("access-control-max-age", PREFLIGHT_MAX_AGE);
    }
    req.resume();
    writeHead(res, 204);
    res.end();
    return true;
  };
}
