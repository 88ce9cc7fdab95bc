import type http from "node:http";
import http2 from "node:http2";
import type { Socket } from "node:net";

/**
 * What one port lets a client hold (docs/operations.md, "Connection and request limits"): how long
 * it may take to send a request, how long an idle connection stays open, how many connections and
 * HTTP/2 streams it may open and how large its headers may be. Every limit applies per process.
 */
export interface ConnectionLimits {
  /** Time from a connection's first byte (HTTP/1.1: from each request's start) to the end of the request head, ms. */
  headerTimeoutMs: number;
  /** Time to receive a whole request, head and body, ms. */
  requestTimeoutMs: number;
  /** How long a connection without a request in flight stays open, ms (HTTP/1.1 keep-alive, idle HTTP/2 sessions). */
  idleTimeoutMs: number;
  /** Open connections of the port, all sources together. */
  maxConnections: number;
  /** Open connections from one source address. */
  maxConnectionsPerSource: number;
  /** Streams one HTTP/2 connection may have open at once (RFC 9113 §6.5.2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** Size of a request's header section, bytes (HTTP/1.1 head; HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE). */
  maxHeaderBytes: number;
}

/** The defaults of `tessera serve` (src/config/options.ts documents each). */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headerTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  // Longer than the usual load balancer idle timeout (60 s), so the balancer, not Tessera, closes first.
  idleTimeoutMs: 65_000,
  maxConnections: 4096,
  maxConnectionsPerSource: 256,
  maxConcurrentStreams: 100,
  maxHeaderBytes: 16 * 1024,
};

/**
 * How often Node's HTTP/1.1 server looks for requests past their header or request timeout, ms:
 * often enough that a timeout is kept to about a tenth of it, at most once a second.
 */
export function timeoutCheckIntervalMs(limits: ConnectionLimits): number {
  return Math.max(50, Math.min(1000, Math.floor(Math.min(limits.headerTimeoutMs, limits.requestTimeoutMs) / 10)));
}

/**
 * Applies the timeouts and the header size to an HTTP/1.1 server (or an HTTP/2 server's HTTP/1.1
 * fallback, which reads the same properties). Node answers a request past its header or request
 * timeout with `408` and closes the connection, and a head larger than the limit with `431`.
 */
export function applyHttp1Limits(server: http.Server | http2.Http2SecureServer, limits: ConnectionLimits): void {
  // Node reads these properties on both servers, though only http.Server types some of them.
  const target = server as http.Server & { maxHeaderSize: number; connectionsCheckingInterval: number };
  target.headersTimeout = limits.headerTimeoutMs;
  target.requestTimeout = limits.requestTimeoutMs;
  target.keepAliveTimeout = limits.idleTimeoutMs;
  target.maxHeaderSize = limits.maxHeaderBytes;
  // Read when the server starts listening; Node's default is 30 s.
  target.connectionsCheckingInterval = timeoutCheckIntervalMs(limits);
}

/**
 * The HTTP/2 server options of the limits. A stream beyond `maxConcurrentStreams` is refused with
 * RST_STREAM REFUSED_STREAM (RFC 9113 §5.1.2), and after 100 refusals the session is closed
 * (Node's `maxSessionRejectedStreams`); `maxHeaderBytes` is advertised as SETTINGS_MAX_HEADER_LIST_SIZE
 * (Node does not enforce it on receipt: {@link http2HeadersTooLarge} does). Rapid
 * reset (CVE-2023-44487) is handled by Node's nghttp2, which ends a session that resets streams
 * faster than its rate limit (about 1000 at once, then 33 a second) with a GOAWAY.
 */
export function http2Options(limits: ConnectionLimits): http2.ServerOptions {
  return {
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes },
    maxSessionRejectedStreams: 100,
  };
}

/**
 * The size of a request's header list as RFC 9113 §6.5.2 counts it for SETTINGS_MAX_HEADER_LIST_SIZE:
 * each field's name and value in octets, uncompressed, plus 32. `rawHeaders` alternates names and values.
 */
export function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (const field of rawHeaders) size += Buffer.byteLength(field, "utf8");
  return size + 32 * Math.floor(rawHeaders.length / 2);
}

/**
 * Answers an HTTP/2 request whose header list is over `maxHeaderBytes` with `431` (RFC 6585 §5) and
 * returns true, or returns false for one within it. Node only advertises the limit as
 * SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2, advisory) and delivers a larger list, so the limit is kept here.
 */
export function http2HeadersTooLarge(
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
  limits: Pick<ConnectionLimits, "maxHeaderBytes">,
): boolean {
  if (headerListSize(req.rawHeaders) <= limits.maxHeaderBytes) return false;
  res.writeHead(431, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify({ error: "invalid_request", error_description: "request header fields too large" }));
  return true;
}

/**
 * Counts a port's open connections, in total and per source address, and closes at once a
 * connection beyond either limit: a flood from one address cannot take the connections that
 * others need.
 */
export class ConnectionAdmission {
  readonly #perSource = new Map<string, number>();
  #open = 0;

  constructor(private readonly limits: Pick<ConnectionLimits, "maxConnections" | "maxConnectionsPerSource">) {}

  /** Counts `socket` until it closes and returns true, or destroys it and returns false when a limit is reached. */
  admit(socket: Socket): boolean {
    const source = socket.remoteAddress ?? "";
    const fromSource = this.#perSource.get(source) ?? 0;
    if (this.#open >= this.limits.maxConnections || fromSource >= this.limits.maxConnectionsPerSource) {
      socket.destroy();
      return false;
    }
    this.#open += 1;
    this.#perSource.set(source, fromSource + 1);
    socket.once("close", () => {
      this.#open -= 1;
      const left = (this.#perSource.get(source) ?? 1) - 1;
      if (left === 0) this.#perSource.delete(source);
      else this.#perSource.set(source, left);
    });
    return true;
  }
}

/**
 * Holds an HTTP/2 session to the limits' timeouts: it must open its first stream within the header
 * timeout and is closed with a GOAWAY (RFC 9113 §6.8) once it has had no stream open for the idle
 * timeout; a stream whose request has not ended within the request timeout is answered `408`
 * (RST_STREAM CANCEL when its response has begun). A quiet stream (a long `Watch`) keeps its
 * session open.
 */
export function enforceSessionTimeouts(session: http2.ServerHttp2Session, limits: ConnectionLimits): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined = setTimeout(() => session.close(), limits.headerTimeoutMs);
  session.once("close", () => clearTimeout(idle));
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    open += 1;
    clearTimeout(idle);
    idle = undefined;
    const request = setTimeout(() => cutRequest(stream), limits.requestTimeoutMs);
    stream.once("end", () => clearTimeout(request));
    stream.once("close", () => {
      clearTimeout(request);
      open -= 1;
      if (open === 0 && !session.closed) idle = setTimeout(() => session.close(), limits.idleTimeoutMs);
    });
  });
}

/**
 * A request past its request timeout: `408` (RFC 9110 §15.5.9) then RST_STREAM NO_ERROR, which
 * tells the client to stop sending (RFC 9113 §8.1); a reset alone when the response has begun.
 */
function cutRequest(stream: http2.ServerHttp2Stream): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  stream.respond({ ":status": 408, "content-type": "application/json" });
  stream.end(JSON.stringify({ error: "invalid_request", error_description: "request not received in time" }), () =>
    stream.close(http2.constants.NGHTTP2_NO_ERROR),
  );
}
