import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";

/** The client connection preface of HTTP/2 (RFC 9113 §3.4) starts with these bytes. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** A request handler both the HTTP/1.1 and the HTTP/2 servers call. */
export type DualHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** A listening server. */
export interface ListeningServer {
  /** The bound address (the real port when 0 was asked). */
  address: AddressInfo;
  /** Stops accepting, lets in-flight requests finish up to `graceMs`, then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves one handler on one TCP port for HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge,
 * which gRPC uses): the first bytes of each connection tell which protocol it speaks.
 */
export function listen(handler: DualHandler, host: string, port: number): Promise<ListeningServer> {
  const h1 = http.createServer({ keepAliveTimeout: 65_000 }, handler);
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });

  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => socket.destroy()); // a peer reset before the first byte is not our failure
    socket.on("close", () => sockets.delete(socket));
    socket.once("readable", () => route(socket));
  });

  function route(socket: net.Socket): void {
    const head: Buffer | null = socket.read();
    if (head === null) {
      socket.once("readable", () => route(socket));
      return;
    }
    socket.unshift(head);
    const n = Math.min(head.length, H2_PREFACE.length);
    const looksLikeH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (looksLikeH2 && n < 4) {
      // "P" could still be POST or PUT: wait for enough bytes to tell.
      socket.once("readable", () => route(socket));
      return;
    }
    (looksLikeH2 ? h2 : h1).emit("connection", socket);
  }

  return new Promise((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      resolve({
        address: tcp.address() as AddressInfo,
        close: (graceMs = 10_000) =>
          new Promise<void>((done) => {
            tcp.close(() => done());
            h1.closeIdleConnections();
            for (const session of sessions) session.close();
            const timer = setTimeout(() => {
              for (const socket of sockets) socket.destroy();
            }, graceMs);
            timer.unref();
            const check = setInterval(() => {
              if (sockets.size === 0) {
                clearInterval(check);
                clearTimeout(timer);
              } else h1.closeIdleConnections();
            }, 50);
            check.unref();
          }),
      });
    });
  });
}
