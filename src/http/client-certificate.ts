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
  if (!peer?.raw) return undefined;
  const certificate = new X509Certificate(peer.raw);
  return {
    authorized: socket.authorized,
    subjectDn: certificate.subject,
    thumbprintS256: createHash("sha256").update(peer.raw).digest("base64url"),
  };
}

/** What the transport says of the client: its `Authorization` header and mutual-TLS certificate. */
export function transportOf(req: HttpRequest): TransportCredentials {
  const clientCertificate = clientCertificateOf(req);
  return { authorization: req.headers.authorization, ...(clientCertificate && { clientCertificate }) };
}
