import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { TlsCredentials } from "../server/listen.js";

type IdentityListener = experimental.IdentityCertificateUpdateListener;
type CaListener = experimental.CaCertificateUpdateListener;

/**
 * The certificate, key and client CA of a grpc-js server, replaceable while it runs (a certificate
 * reload reaches new connections; open ones keep theirs, as on the main port).
 *
 * Not `ServerCredentials.createSsl`: its `checkClientCertificate` either asks for no client
 * certificate or rejects every connection without a valid one. Like the main port, Tessera asks for
 * one but does not require it (RFC 8705 §2: the token endpoint decides per client), which grpc-js
 * offers only through certificate-provider credentials.
 */
export class GrpcTlsCertificates implements experimental.CertificateProvider {
  #identity: experimental.IdentityCertificateUpdate;
  #ca: experimental.CaCertificateUpdate | null;
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #caListeners = new Set<CaListener>();

  constructor(credentials: TlsCredentials) {
    this.#identity = identityOf(credentials);
    this.#ca = caOf(credentials);
  }

  /**
   * Server credentials over these certificates. With a client CA, client certificates are asked
   * for, not required; grpc-js then shows a call's certificate only when it chains to the CA.
   */
  serverCredentials(): ServerCredentials {
    // grpc-js 1.14 names these parameters the wrong way round: the first is the identity provider,
    // the second (null: no client certificates asked for) the CA provider.
    return experimental.createCertificateProviderServerCredentials(this, this.#ca ? this : null, false);
  }

  /** Serves new connections with `credentials`. */
  update(credentials: TlsCredentials): void {
    this.#identity = identityOf(credentials);
    this.#ca = caOf(credentials);
    for (const listener of this.#identityListeners) listener(this.#identity);
    for (const listener of this.#caListeners) listener(this.#ca);
  }

  /** {@link experimental.CertificateProvider}: grpc-js subscribes when it binds. */
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    // Asynchronously, as grpc-js's own providers do: it registers its watcher after this call.
    process.nextTick(() => listener(this.#identity));
  }

  /** {@link experimental.CertificateProvider} */
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }

  /** {@link experimental.CertificateProvider} */
  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    process.nextTick(() => listener(this.#ca));
  }

  /** {@link experimental.CertificateProvider} */
  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }
}

function identityOf(credentials: TlsCredentials): experimental.IdentityCertificateUpdate {
  return { certificate: Buffer.from(credentials.cert), privateKey: Buffer.from(credentials.key) };
}

function caOf(credentials: TlsCredentials): experimental.CaCertificateUpdate | null {
  return credentials.ca === undefined ? null : { caCertificate: Buffer.from(credentials.ca) };
}
