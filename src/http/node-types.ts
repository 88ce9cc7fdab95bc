import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

/** A request from the HTTP/1.1 or the HTTP/2 server: the OAuth adapter serves both. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;

/** A response of the HTTP/1.1 or the HTTP/2 server. */
export type HttpResponse = ServerResponse | Http2ServerResponse;

/**
 * Sends the status line and headers of either server's response. Both take `(status, headers)`, but since
 * `@types/node` 24 their overload sets differ, so a call on the union type does not compile.
 */
export function writeHead(res: HttpResponse, status: number, headers: OutgoingHttpHeaders = {}): void {
  (res as ServerResponse).writeHead(status, headers);
}
