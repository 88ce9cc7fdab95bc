import { createHash, X509Certificate } from "node:crypto";
import { TLSSocket } from "node:tls";
import type { PresentedCertificate } from "../exchange/client-auth.js";
import type { TransportCredentials } from "../rpc/token-exchange-service.js";
import type { HttpRequest } from "./node-types.js";

/**
 * The client certificate of a mutual-TLS request (RFC 8705), or undefined without one: its subject
 * DN, whether it chains to `--tls-client-ca`, and its SHA-256 thumbprint (`x5t#S256`, RFC 8705 §3.1).
 */
export function clientCertificateOf(req: HttpRequest): PresentedCertificate | undefined {
  const socket = "stream" in req ? req.stream.session?.socket : req.socket;
  if (!(socket instanceof TLSSocket)) return undefined;
  const peer = socket.getPeerCertificate();
  return peer?.raw ? presentedCertificate(peer.raw, socket.authorized) : undefined;
}

/**
 * A client certificate as client authentication sees it, from its DER bytes and whether it chains
 * to `--tls-client-ca` (the transport's verdict).
 */
export function presentedCertificate(der: Buffer, authorized: boolean): PresentedCertificate {
  return {
    authorized,
    subjectDn: new X509Certificate(der).subject,
    thumbprintS256: createHash("sha256").update(der).digest("base64url"),
  };
}

/** What the transport says of the client: its `Authorization` header, mutual-TLS certificate and peer address. */
export function transportOf(req: HttpRequest): TransportCredentials {
  const clientCertificate = clientCertificateOf(req);
  return { authorization: req.headers.authorization, ...(clientCertificate && { clientCertificate }), sourceAddress: sourceAddressOf(req) };
}

/** The peer address of a request's connection (the socket's: Tessera reads no forwarding header). */
export function sourceAddressOf(req: HttpRequest): string | undefined {
  return req.socket?.remoteAddress;
}
