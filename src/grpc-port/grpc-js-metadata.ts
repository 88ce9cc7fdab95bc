import type { ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { Metadata, type status, type StatusObject } from "@grpc/grpc-js";

/** Trailers grpc-js writes itself from a status's code and details. */
const STATUS_TRAILERS = new Set(["grpc-status", "grpc-message"]);

/**
 * HTTP/2 headers as grpc-js metadata. Values of `-bin` keys travel base64-encoded in Connect's
 * `Headers` (gRPC over HTTP/2, "Custom-Metadata"), and as raw bytes in grpc-js metadata.
 */
export function metadataOf(headers: Headers): Metadata {
  const metadata = new Metadata();
  headers.forEach((value, key) => {
    if (STATUS_TRAILERS.has(key)) return;
    if (!key.endsWith("-bin")) metadata.add(key, value);
    // `Headers` joins repeated values with ", "; base64 has no comma.
    else for (const part of value.split(",")) metadata.add(key, Buffer.from(part.trim(), "base64"));
  });
  return metadata;
}

/** grpc-js metadata as the HTTP/2 headers a Connect handler reads (`-bin` values base64-encoded). */
export function headersOf(metadata: Metadata): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(metadata.toHttp2Headers())) {
    for (const one of [value ?? []].flat()) headers.append(key, String(one));
  }
  return headers;
}

/**
 * The grpc-js status of a ConnectError, with the trailers Connect's own gRPC handler sends for it
 * (`setTrailerStatus`, the function the main port uses): the error's metadata (`www-authenticate`)
 * and `grpc-status-details-bin`, a `google.rpc.Status` whose details carry the OAuthError as
 * `google.protobuf.Any`. Connect's codes are gRPC's, number for number, so one client-side
 * decoding serves both ports.
 */
export function grpcStatusOf(error: ConnectError): Pick<StatusObject, "code" | "details" | "metadata"> {
  // setTrailerStatus is internal to Connect (`@private` in 2.3.0; the public API encodes trailers only inside its handlers).
  return { code: error.code as number as status, details: error.rawMessage, metadata: metadataOf(setTrailerStatus(new Headers(), error)) };
}
