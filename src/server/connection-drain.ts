import type http2 from "node:http2";
import type { Socket } from "node:net";
import type { HttpRequest, HttpResponse } from "../http/node-types.js";

/** How often idle HTTP/1.1 connections are looked for while draining, ms. */
const SWEEP_INTERVAL_MS = 50;
/**
 * While draining, how long a connection that has not sent a complete request head yet may take to
 * do so (a request may be on its way) before it is closed, ms.
 */
const FIRST_REQUEST_WAIT_MS = 1000;
/**
 * Closing a listener resets the connections still in the kernel's accept queue, requests sent on
 * them included. So the listener stays open until no connection has arrived for this long, ms...
 */
const ACCEPT_QUIET_MS = 100;
/** ...but at most this long after the stop began, ms. */
const ACCEPT_DRAIN_MAX_MS = 1000;

/**
 * Tracks a server's connections so that it can stop gracefully: no new connection, every request
 * already received answered, then every connection closed; at the deadline whatever is left is
 * destroyed.
 *
 * - HTTP/2: each session gets a GOAWAY (RFC 9113 §6.8) naming its last stream, so streams in
 *   flight finish and the client knows later ones were not processed and may be retried.
 * - HTTP/1.1: a connection idle between requests is closed; a response in flight is sent with
 *   `Connection: close` (RFC 9112 §9.6) and its connection closed after it; a connection that has
 *   not delivered its first request yet gets {@link FIRST_REQUEST_WAIT_MS} to do so.
 */
export class ConnectionDrain {
  /** Every accepted TCP connection, for the deadline. */
  readonly #connections = new Set<Socket>();
  /** Connections before their first request (HTTP/1.1, or protocol not known yet), and when they came. */
  readonly #fresh = new Map<Socket, number>();
  /** HTTP/1.1 connections that have had a request (the socket requests see) and their responses in flight. */
  readonly #http1 = new Map<Socket, Set<HttpResponse>>();
  readonly #sessions = new Set<http2.Http2Session>();
  #closingSince: number | undefined;
  #lastAcceptedAt = 0;

  /** An accepted TCP connection; `fresh` when its requests will be seen on this socket (cleartext). */
  connection(socket: Socket, fresh: boolean): void {
    this.#lastAcceptedAt = Date.now();
    this.#connections.add(socket);
    if (fresh) this.#fresh.set(socket, this.#lastAcceptedAt);
    socket.once("close", () => {
      this.#connections.delete(socket);
      this.#fresh.delete(socket);
    });
  }

  /** A TLS connection that negotiated HTTP/1.1: fresh until its first request. */
  http1(socket: Socket): void {
    this.#fresh.set(socket, Date.now());
    socket.once("close", () => this.#fresh.delete(socket));
  }

  /** An HTTP/2 session. */
  session(session: http2.Http2Session): void {
    if (session.socket) this.#fresh.delete(session.socket as Socket);
    this.#sessions.add(session);
    session.once("close", () => this.#sessions.delete(session));
    if (this.#closingSince !== undefined) {
      // Accepted while stopping: serve the stream it was opened for, then GOAWAY.
      session.once("stream", () => session.close());
      setTimeout(() => session.close(), FIRST_REQUEST_WAIT_MS).unref();
    }
  }

  /** A request received: an HTTP/1.1 one keeps its connection busy until its response is done. */
  request(req: HttpRequest, res: HttpResponse): void {
    if (req.httpVersionMajor === 2) return;
    const socket = req.socket as Socket;
    this.#fresh.delete(socket);
    let inFlight = this.#http1.get(socket);
    if (inFlight === undefined) {
      const responses = new Set<HttpResponse>();
      inFlight = responses;
      this.#http1.set(socket, responses);
      socket.once("close", () => this.#http1.delete(socket));
    }
    const responses = inFlight;
    responses.add(res);
    res.once("close", () => responses.delete(res));
    if (this.#closingSince !== undefined && !res.headersSent) res.setHeader("connection", "close");
  }

  /**
   * Stops gracefully: drains as described above, then `stopListening` once the accept queue is
   * empty (see {@link ACCEPT_QUIET_MS}), which calls back when every connection has closed; after
   * `graceMs` every connection left is destroyed.
   */
  close(graceMs: number, stopListening: (done: () => void) => void): Promise<void> {
    const closingSince = Date.now();
    this.#closingSince = closingSince;
    return new Promise<void>((resolve) => {
      const deadline = setTimeout(() => {
        for (const session of this.#sessions) session.destroy();
        for (const socket of this.#connections) socket.destroy();
      }, graceMs);
      const sweep = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
      const acceptUntil = closingSince + Math.min(ACCEPT_DRAIN_MAX_MS, graceMs);
      const stopWhenQuiet = () => {
        const now = Date.now();
        if (now - this.#lastAcceptedAt < ACCEPT_QUIET_MS && now < acceptUntil) {
          setTimeout(stopWhenQuiet, ACCEPT_QUIET_MS / 4);
          return;
        }
        stopListening(() => {
          clearTimeout(deadline);
          clearInterval(sweep);
          resolve();
        });
      };
      stopWhenQuiet();
      for (const responses of this.#http1.values()) {
        for (const res of responses) if (!res.headersSent) res.setHeader("connection", "close");
      }
      for (const session of this.#sessions) session.close();
      this.#sweep();
    });
  }

  /**
   * Ends every HTTP/1.1 connection idle between requests (as `http.Server.closeIdleConnections`
   * does), and fresh ones past their wait. `end()`, not `destroy()`: what was written still arrives.
   */
  #sweep(): void {
    for (const [socket, responses] of this.#http1) if (responses.size === 0) socket.end();
    const now = Date.now();
    for (const [socket, since] of this.#fresh) {
      if (now - Math.max(since, this.#closingSince ?? now) >= FIRST_REQUEST_WAIT_MS) socket.end();
    }
  }
}
