import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";
import tlsModule from "node:tls";
import { ConnectionDrain } from "./connection-drain.js";
import {
  ConnectionAdmission,
  DEFAULT_CONNECTION_LIMITS,
  applyHttp1Limits,
  enforceSessionTimeouts,
  http2HeadersTooLarge,
  http2Options,
  type ConnectionLimits,
} from "./connection-limits.js";

/** The client connection preface of HTTP/2 (RFC 9113 §3.4) starts with these bytes. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** A request handler both the HTTP/1.1 and the HTTP/2 servers call. */
export type DualHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** A certificate chain and its private key, PEM. */
export interface TlsCredentials {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA certificates of client certificates: when set, clients are asked for one (optional, verified per client). */
  ca?: string | Buffer;
}

/** A listening server. */
export interface ListeningServer {
  /** The bound address (the real port when 0 was asked). */
  address: AddressInfo;
  /** True when serving TLS. */
  secure: boolean;
  /** Serves new connections with another certificate (TLS only); connections open keep theirs. */
  setCredentials(credentials: TlsCredentials): void;
  /**
   * Stops accepting, lets requests already received finish up to `graceMs` (HTTP/2: GOAWAY;
   * HTTP/1.1: `Connection: close`), then closes every connection.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves one handler on one TCP port for HTTP/1.1 and HTTP/2. In cleartext, HTTP/2 is h2c with
 * prior knowledge (which gRPC uses): the first bytes of each connection tell which protocol it
 * speaks. With `tls`, ALPN negotiates `h2` or `http/1.1` (RFC 7301) on the same port. Every
 * connection is held to `limits` (see {@link ConnectionLimits}).
 */
export function listen(
  handler: DualHandler,
  host: string,
  port: number,
  tls?: TlsCredentials,
  limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
): Promise<ListeningServer> {
  const drain = new ConnectionDrain();
  const tracked: DualHandler = (req, res) => {
    drain.request(req, res);
    // RFC 9113 §6.5.2: an HTTP/2 header list over the advertised limit (HTTP/1.1 heads are held by Node itself).
    if (req instanceof http2.Http2ServerRequest && http2HeadersTooLarge(req, res as http2.Http2ServerResponse, limits)) return;
    handler(req, res);
  };
  const guards: ConnectionGuards = { drain, admission: new ConnectionAdmission(limits), limits };
  const server = tls ? secureServer(tracked, tls, guards) : cleartextServer(tracked, guards);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve({
        address: server.address() as AddressInfo,
        secure: tls !== undefined,
        setCredentials: (credentials) => {
          if (!(server instanceof tlsModule.Server)) throw new Error("setCredentials: the server does not serve TLS");
          server.setSecureContext(credentials);
        },
        close: (graceMs = 10_000) => drain.close(graceMs, (done) => server.close(() => done())),
      });
    });
  });
}

/** What every accepted connection goes through: the limits, then the drain's tracking. */
interface ConnectionGuards {
  drain: ConnectionDrain;
  admission: ConnectionAdmission;
  limits: ConnectionLimits;
}

/** HTTPS and gRPC over TLS: ALPN h2 and http/1.1 on one listener. */
function secureServer(handler: DualHandler, tls: TlsCredentials, { drain, admission, limits }: ConnectionGuards): tlsModule.Server {
  // With a client CA, a certificate is asked for but not required: the token endpoint decides
  // per client (RFC 8705 §2), and checks `authorized` (chains to the CA) itself.
  const server = http2.createSecureServer(
    {
      ...tls,
      allowHTTP1: true,
      ...http2Options(limits),
      // The TLS handshake comes before the request head: it gets the header timeout too.
      handshakeTimeout: limits.headerTimeoutMs,
      ...(tls.ca && { requestCert: true, rejectUnauthorized: false }),
    },
    handler,
  );
  applyHttp1Limits(server, limits);
  server.on("connection", (socket: net.Socket) => {
    if (admission.admit(socket)) drain.connection(socket, false);
  });
  server.on("secureConnection", (socket: tlsModule.TLSSocket) => {
    if (socket.alpnProtocol !== "h2") drain.http1(socket);
  });
  server.on("session", (session) => {
    enforceSessionTimeouts(session, limits);
    drain.session(session);
  });
  return server;
}

/** HTTP/1.1 and h2c on one listener, told apart by the HTTP/2 connection preface. */
function cleartextServer(handler: DualHandler, { drain, admission, limits }: ConnectionGuards): net.Server {
  const h1 = http.createServer({}, handler);
  applyHttp1Limits(h1, limits);
  const h2 = http2.createServer(http2Options(limits), handler);
  h2.on("session", (session) => {
    enforceSessionTimeouts(session, limits);
    drain.session(session);
  });

  const tcp = net.createServer((socket) => {
    if (!admission.admit(socket)) return;
    drain.connection(socket, true);
    socket.on("error", () => socket.destroy()); // a peer reset before the first byte is not our failure
    // Until its first bytes tell the protocol, the connection is held to the header timeout here.
    const undecided = setTimeout(() => socket.destroy(), limits.headerTimeoutMs);
    socket.once("close", () => clearTimeout(undecided));
    socket.once("readable", () => route(socket, undecided));
  });
  // h1 and h2 are handed connections, never listen: Node starts the HTTP/1.1 header and request
  // timeout checks when a server starts listening, so start them with the listener.
  tcp.once("listening", () => h1.emit("listening"));
  tcp.once("close", () => h1.close());

  /**
   * Reads the first bytes (`head`: those read so far) until they tell the protocol, puts them back
   * and hands the connection over. Bytes are kept here, not put back while waiting: put back, they
   * would make the socket readable again at once, a busy loop on a client that sent only "P".
   */
  function route(socket: net.Socket, undecided: NodeJS.Timeout, head = Buffer.alloc(0)): void {
    const chunk: Buffer | null = socket.read();
    const bytes = chunk === null ? head : Buffer.concat([head, chunk]);
    const n = Math.min(bytes.length, H2_PREFACE.length);
    const looksLikeH2 = bytes.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    // Nothing yet, or "P" that could still be POST or PUT: wait for enough bytes to tell.
    if (n === 0 || (looksLikeH2 && n < 4)) {
      socket.once("readable", () => route(socket, undecided, bytes));
      return;
    }
    clearTimeout(undecided);
    socket.unshift(bytes);
    (looksLikeH2 ? h2 : h1).emit("connection", socket);
  }
  return tcp;
}
