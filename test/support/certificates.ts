/** Certificates made in the tests (mutual TLS, RFC 8705): a CA, servers and clients signed by it. */
import { createHash, X509Certificate } from "node:crypto";
import { generate } from "selfsigned";

/** A PEM certificate and its private key. */
export interface Pem {
  cert: string;
  key: string;
}

/** A certificate for `subject`, signed by `ca` (self-signed without one). */
export async function certificate(subject: { CN: string; O?: string }, ca?: Pem, extra: object[] = []): Promise<Pem> {
  const attributes = [{ name: "commonName", value: subject.CN }, ...(subject.O ? [{ name: "organizationName", value: subject.O }] : [])];
  const generated = await generate(attributes, { keyType: "ec", algorithm: "sha256", ...(ca && { ca }), extensions: extra as never });
  return { cert: generated.cert, key: generated.private };
}

/** A CA certificate that may sign others. */
export function certificateAuthority(name: string): Promise<Pem> {
  return certificate({ CN: name }, undefined, [
    { name: "basicConstraints", cA: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true },
  ]);
}

/** A server certificate for 127.0.0.1 signed by `ca`. */
export function localhostCertificate(ca: Pem): Promise<Pem> {
  return certificate({ CN: "127.0.0.1" }, ca, [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }]);
}

/** `x5t#S256` of a PEM certificate (RFC 8705 §3.1). */
export function thumbprint(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).raw).digest("base64url");
}
