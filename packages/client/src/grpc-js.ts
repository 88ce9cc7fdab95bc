/**
 * The grpc-js side of the library (import from `@tessera/client/grpc-js`; needs `@grpc/grpc-js`).
 * @module
 */
import { credentials, InterceptingCall, Metadata, status, type CallCredentials, type Interceptor } from "@grpc/grpc-js";
import { TokenExchangeError } from "./errors.js";
import { downstreamToken, type DownstreamOptions } from "./outgoing/downstream-token.js";

/** The gRPC status of a failed exchange: its code when it has one, UNAUTHENTICATED otherwise. */
function statusOf(error: unknown): { code: status; details: string } {
  if (error instanceof TokenExchangeError) return { code: error.code as number as status, details: error.message };
  return { code: status.UNAUTHENTICATED, details: "token exchange failed" };
}

/**
 * A grpc-js client interceptor: exchanges the incoming token (taken when the call starts) for the downstream
 * audience and sends it as `authorization` metadata. A refused exchange ends the call with its gRPC code and no
 * request reaches the server. Works on insecure channels too, unlike CallCredentials.
 */
export function exchangeGrpcInterceptor(options: DownstreamOptions): Interceptor {
  return (callOptions, nextCall) =>
    new InterceptingCall(nextCall(callOptions), {
      start(metadata, listener, next) {
        downstreamToken(options).then(
          (token) => {
            metadata.set("authorization", `Bearer ${token}`);
            next(metadata, listener);
          },
          (error: unknown) => listener.onReceiveStatus?.({ ...statusOf(error), metadata: new Metadata() }),
        );
      },
    });
}

/**
 * grpc-js CallCredentials doing the same as {@link exchangeGrpcInterceptor}, for TLS channels
 * (`credentials.combineChannelCredentials(credentials.createSsl(), exchangeCallCredentials(...))`).
 * Pass `subjectToken` when the calls are not made inside the incoming request's context.
 */
export function exchangeCallCredentials(options: DownstreamOptions): CallCredentials {
  return credentials.createFromMetadataGenerator((_params, callback) => {
    downstreamToken(options).then(
      (token) => {
        const metadata = new Metadata();
        metadata.set("authorization", `Bearer ${token}`);
        callback(null, metadata);
      },
      (error: unknown) => callback(Object.assign(new Error(statusOf(error).details), { code: statusOf(error).code })),
    );
  });
}
