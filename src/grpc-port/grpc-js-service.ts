import { fromBinary, toBinary, type DescMethodUnary, type DescService, type Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createHandlerContext,
  createServiceImplSpec,
  type ContextValues,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImpl,
} from "@connectrpc/connect";
import { invokeUnaryImplementation } from "@connectrpc/connect/protocol";
import { Metadata, type Server, type ServerUnaryCall, type UntypedServiceImplementation, type MethodDefinition, type handleUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "../ops/logger.js";
import type { TesseraMetrics } from "../ops/metrics.js";
import { RequestRecord, requestIdOf, runWithRequest } from "../ops/request-context.js";
import { logRequest } from "../ops/request-log.js";
import { runInSpanContext, startServerSpan } from "../ops/tracing.js";
import { isTracedRpc } from "../ops/request-span.js";
import { toConnectError } from "../rpc/errors.js";
import { grpcStatusOf, headersOf, metadataOf } from "./grpc-js-metadata.js";

/**
 * A request as grpc-js hands it to a handler: its message, or why its bytes did not decode. The
 * deserializer never throws, so an undecodable request is answered, logged and counted by the
 * handler like any other failure (grpc-js would answer it before any handler runs).
 */
type DecodedRequest = { message: Message } | { failure: ConnectError };

/** A unary method with its Connect implementation. */
type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;

/** What every call of a grpc-js server shares. */
export interface GrpcCallOptions {
  /** The Connect interceptors of the main port (metrics of issued tokens, failures noted on the request). */
  interceptors: Interceptor[];
  /** The call's Connect context values (the mutual-TLS client certificate). */
  contextValues(call: ServerUnaryCall<unknown, unknown>): ContextValues;
  log: Logger;
  metrics: TesseraMetrics;
}

/**
 * Serves the unary methods of a Connect service implementation on a grpc-js server: the grpc-js
 * service definition is built from the protobuf-es descriptor (`fromBinary` / `toBinary` with each
 * method's schemas), and each call runs the implementation the way Connect's own handlers do
 * (`invokeUnaryImplementation`: the same interceptors, a HandlerContext whose request headers are
 * the call's metadata). Streaming methods are left out: grpc-js answers them UNIMPLEMENTED.
 *
 * Each call is a request as the main port sees it: a {@link RequestRecord} (surface `grpc`, the
 * caller's `x-request-id` when safe, answered in the response metadata), a server span when
 * tracing is on, one log line and the request metrics. A failure that is not a ConnectError goes through the error table
 * ({@link toConnectError}): logged with an id, answered without internals.
 *
 * Uses `invokeUnaryImplementation` and `setTrailerStatus`, marked internal by Connect (checked against
 * `@connectrpc/connect` 2.3.0: no public API runs a method's interceptors outside Connect's own
 * handlers); the version is pinned exactly for that.
 *
 * @returns the fully-qualified name of the service.
 */
export function addConnectService<S extends DescService>(server: Server, service: S, implementation: ServiceImpl<S>, options: GrpcCallOptions): string {
  const definition: Record<string, MethodDefinition<DecodedRequest, Message>> = {};
  const handlers: UntypedServiceImplementation = {};
  for (const spec of Object.values(createServiceImplSpec(service, implementation).methods)) {
    if (spec.kind !== "unary") continue;
    definition[spec.method.localName] = methodDefinition(spec.method);
    handlers[spec.method.localName] = unaryHandler(spec, options);
  }
  server.addService(definition, handlers);
  return service.typeName;
}

/** The grpc-js definition of a unary method: `/package.Service/Method`, protobuf binary both ways. */
function methodDefinition(method: DescMethodUnary): MethodDefinition<DecodedRequest, Message> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    originalName: method.name,
    requestStream: false,
    responseStream: false,
    // The client half of the definition, which grpc-js types ask for too.
    requestSerialize: (request) => Buffer.from("message" in request ? toBinary(method.input, request.message) : []),
    requestDeserialize: (bytes) => {
      try {
        return { message: fromBinary(method.input, bytes) };
      } catch (error) {
        // gRPC doc/statuscodes.md: "Error parsing request proto" is INTERNAL; worded as Connect words it on the main port.
        return { failure: new ConnectError(`parse binary: ${error instanceof Error ? error.message : String(error)}`, Code.Internal) };
      }
    },
    responseSerialize: (response) => Buffer.from(toBinary(method.output, response)),
    responseDeserialize: (bytes) => fromBinary(method.output, bytes),
  };
}

function unaryHandler(spec: UnarySpec, options: GrpcCallOptions): handleUnaryCall<DecodedRequest, Message> {
  const { method } = spec;
  const operation = `${method.parent.typeName}/${method.name}`;
  return (call, callback) => {
    const [requestId] = call.metadata.get("x-request-id");
    const record = new RequestRecord(requestIdOf(typeof requestId === "string" ? requestId : undefined));
    record.surface = "grpc";
    record.operation = operation;
    // The caller's `traceparent` metadata is the parent of the call's server span (tracing on).
    const traced = isTracedRpc(operation) ? startServerSpan(operation, { metadata: call.metadata }, { "tessera.surface": "grpc" }) : undefined;
    record.span = traced?.span;
    void runWithRequest(record, () => runInSpanContext(traced, async () => {
      const header = new Metadata();
      header.set("x-request-id", record.id);
      try {
        if ("failure" in call.request) throw call.request.failure;
        const context = createHandlerContext({
          service: method.parent,
          method,
          protocolName: "grpc",
          requestMethod: "POST",
          url: `/${operation}`,
          requestHeader: headersOf(call.metadata),
          contextValues: options.contextValues(call),
        });
        // Internal to Connect (`@private` in 2.3.0, no public equivalent): runs the interceptors, then the method.
        const response = await invokeUnaryImplementation(spec, context, call.request.message, options.interceptors);
        header.merge(metadataOf(context.responseHeader));
        call.sendMetadata(header);
        callback(null, response, metadataOf(context.responseTrailer));
      } catch (failure) {
        const error = toConnectError(failure, options.log);
        if (record.error === undefined) record.fail(error);
        call.sendMetadata(header);
        callback(grpcStatusOf(error));
      }
      // Read before grpc-js marks the finished call (a tick later): true only if the client went first.
      if (call.cancelled && record.error === undefined) record.error = "aborted";
      const transport = { method: "POST", path: `/${operation}`, httpVersion: "2.0", status: 200, remoteAddress: hostOf(call.getPeer()) };
      logRequest(record, transport, options.log, options.metrics);
    }));
  };
}

/** The address of a grpc-js peer (`host:port`, `[v6]:port`), without the port. */
export function hostOf(peer: string): string {
  return peer.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
}
