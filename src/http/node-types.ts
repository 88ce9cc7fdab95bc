import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

/** A request from the HTTP/1.1 or the HTTP/2 server: the OAuth adapter serves both. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;

/** A response of the HTTP/1.1 or the HTTP/2 server. */
export type HttpResponse = ServerResponse | Http2ServerResponse;
