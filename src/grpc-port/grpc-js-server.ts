import net from "node:net";
import { createContextValues } from "@connectrpc/connect";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { MAX_MESSAGE_BYTES, type Tessera } from "../server/tessera.js";
import { presentedCertificate } from "../http/client-certificate.js";
import type { Logger } from "../ops/logger.js";
import { healthServiceImpl } from "../ops/grpc-health.js";
import type { ListeningServer, TlsCredentials } from "../server/listen.js";
import { ConnectionAdmission, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../server/connection-limits.js";
import { GrpcTlsCertificates } from "./grpc-js-credentials.js";
import { addConnectService, hostOf, type GrpcCallOptions } from "./grpc-js-service.js";
import { CLIENT_CERTIFICATE, SOURCE_ADDRESS } from "../rpc/token-exchange-service.js";

/** Options of {@link listenGrpc}. */
export interface GrpcPortOptions {
  /** The running Tessera whose TokenExchangeService, interceptors, health and metrics the port shares. */
  tessera: Pick<Tessera, "tokenExchange" | "operations">;
  log: Logger;
  host: string;
  /** 0: any free port. */
  port: number;
  /** The main port's certificate, key and client CA; cleartext (h2c) without. */
  tls?: TlsCredentials;
  /** The main port's limits, as grpc-js applies them (see {@link grpcServerOptions}). */
  limits?: ConnectionLimits;
}

/** The listening gRPC port: like {@link ListeningServer}, with the bound port. */
export type GrpcListeningServer = Omit<ListeningServer, "address"> & {
  /** The bound port (the real one when 0 was asked). */
  port: number;
};

/**
 * Serves TokenExchangeService over the gRPC protocol through `@grpc/grpc-js`, on a port of its
 * own: the same `TokenExchangeRpc` as the main port (through its Connect service
 * implementation and interceptors), without Connect's protocol layer, which is several times slower
 * for gRPC. `grpc.health.v1.Health` Check (and List) answer from the same health monitor; Watch,
 * server reflection and AdminService are served on the main port only.
 *
 * With `tls`, the client CA asks for client certificates without requiring them, as the main port
 * does; a call's certificate is the one grpc-js shows, which it does only when it chains to the CA.
 *
 * Tessera accepts the connections itself and hands them to grpc-js (its connection injector), so
 * that the connection limits, total and per source, are the main port's.
 */
export async function listenGrpc(options: GrpcPortOptions): Promise<GrpcListeningServer> {
  const { tessera, log } = options;
  const limits = options.limits ?? DEFAULT_CONNECTION_LIMITS;
  const server = new Server(grpcServerOptions(limits));
  const calls: GrpcCallOptions = {
    interceptors: tessera.operations.interceptors,
    contextValues: (call) => {
      const peer = call.getAuthContext().sslPeerCertificate;
      // getAuthContext gives a certificate only when it chains to the client CA (the socket is `authorized`).
      return createContextValues()
        .set(CLIENT_CERTIFICATE, peer && presentedCertificate(peer.raw, true))
        .set(SOURCE_ADDRESS, hostOf(call.getPeer()));
    },
    log,
    metrics: tessera.operations.metrics,
  };
  const served = [addConnectService(server, TokenExchangeService, tessera.tokenExchange.serviceImpl(), calls)];
  served.push(addConnectService(server, Health, healthServiceImpl(tessera.operations.health, () => served), calls));

  const certificates = options.tls && new GrpcTlsCertificates(options.tls);
  const injector = server.createConnectionInjector(certificates?.serverCredentials() ?? ServerCredentials.createInsecure());
  const admission = new ConnectionAdmission(limits);
  const listener = net.createServer((socket) => {
    if (admission.admit(socket)) injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port, options.host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  return {
    port: (listener.address() as net.AddressInfo).port,
    secure: certificates !== undefined,
    setCredentials: (credentials) => {
      if (!certificates) throw new Error("setCredentials: the gRPC port does not serve TLS");
      certificates.update(credentials);
    },
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        // No new calls; each connection gets a GOAWAY (RFC 9113 §6.8) and closes once its calls are
        // answered; at the deadline whatever is left is cancelled.
        const deadline = setTimeout(() => server.forceShutdown(), graceMs);
        listener.close();
        server.tryShutdown(() => {
          clearTimeout(deadline);
          resolve();
        });
      }),
  };
}

/**
 * The grpc-js options of the limits: streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS),
 * idle connections closed with a GOAWAY (`grpc.max_connection_idle_ms`, which also bounds a
 * connection that never sends a call), and messages larger than {@link MAX_MESSAGE_BYTES} refused
 * with RESOURCE_EXHAUSTED. grpc-js has no header timeout; a slow client is bounded by the idle
 * timeout and the connection limits.
 */
export function grpcServerOptions(limits: ConnectionLimits): Record<string, number> {
  return {
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    "grpc.max_connection_idle_ms": limits.idleTimeoutMs,
  };
}
