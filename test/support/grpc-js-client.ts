/**
 * A plain `@grpc/grpc-js` client of TokenExchangeService, built at run time from proto/ with
 * `@grpc/proto-loader` (what a Node.js team without protobuf-es would write), and the decoding of
 * the `grpc-status-details-bin` trailer such a team would do.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { create, createFileRegistry, fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { anyUnpack, file_google_protobuf_any, FileDescriptorProtoSchema, type Any } from "@bufbuild/protobuf/wkt";
import { OAuthErrorSchema, type OAuthError } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";

const PROTO_ROOT = fileURLToPath(new URL("../../proto", import.meta.url));

/** The request/response shapes as proto-loader presents them (camelCase, int64 as string). */
export interface ClientAuthentication {
  clientId?: string;
  clientSecret?: string;
  clientAssertionType?: string;
  clientAssertion?: string;
}
export interface ClientCredentialsRequest {
  realm: string;
  client?: ClientAuthentication;
  scope?: string;
}
export interface ClientCredentialsResponse {
  accessToken: string;
  tokenType: string;
  expiresIn: string;
  scope: string;
}
export interface ExchangeTokenRequest {
  realm: string;
  client?: ClientAuthentication;
  subjectToken: string;
  subjectTokenType: string;
  actorToken?: string;
  actorTokenType?: string;
  requestedTokenType?: string;
  requestedSubject?: string;
  audience?: string[];
  resource?: string[];
  scope?: string;
}
export interface ExchangeTokenResponse {
  accessToken: string;
  refreshToken?: string;
  issuedTokenType: string;
  tokenType: string;
  expiresIn: string;
  scope: string;
}
export interface ExplainExchangeResponse {
  rules: { name: string; reference: string; inputs: Record<string, string>; passed: boolean; detail: string }[];
  outcome: { issued: boolean; error: string; errorDescription: string; claimsJson: string; issuedTokenType: string; tokenType: string; scope: string; refreshToken: boolean };
}
export type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  callback: (error: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall;
export interface TokenExchangeClient extends grpc.Client {
  ClientCredentials: Unary<ClientCredentialsRequest, ClientCredentialsResponse>;
  ExchangeToken: Unary<ExchangeTokenRequest, ExchangeTokenResponse>;
  ExplainExchange: Unary<{ exchange: ExchangeTokenRequest }, ExplainExchangeResponse>;
}
export type TokenExchangeClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => TokenExchangeClient;

/** Loads the service from proto/ the way the proto-loader README does. */
export function loadTokenExchangeClient(): TokenExchangeClientConstructor {
  const definition = protoLoader.loadSync("tessera/exchange/v1/token_exchange_service.proto", {
    includeDirs: [PROTO_ROOT],
    keepCase: false,
    longs: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    tessera: { exchange: { v1: { TokenExchangeService: TokenExchangeClientConstructor } } };
  };
  return loaded.tessera.exchange.v1.TokenExchangeService;
}

/**
 * `google.rpc.Status` (google/rpc/status.proto) is not a well-known type, so neither
 * `@bufbuild/protobuf/wkt` nor gen/ has it: describe it here, three fields over `google.protobuf.Any`.
 */
const StatusSchema: DescMessage = (() => {
  const registry = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: "google/rpc/status.proto",
      package: "google.rpc",
      dependency: ["google/protobuf/any.proto"],
      syntax: "proto3",
      messageType: [
        {
          name: "Status",
          field: [
            { name: "code", number: 1, type: 5 /* TYPE_INT32 */, label: 1, jsonName: "code" },
            { name: "message", number: 2, type: 9 /* TYPE_STRING */, label: 1, jsonName: "message" },
            {
              name: "details",
              number: 3,
              type: 11 /* TYPE_MESSAGE */,
              label: 3 /* LABEL_REPEATED */,
              typeName: ".google.protobuf.Any",
              jsonName: "details",
            },
          ],
        },
      ],
    }),
    () => file_google_protobuf_any,
  );
  const status = registry.getMessage("google.rpc.Status");
  assert.ok(status);
  return status;
})();

/** The decoded `grpc-status-details-bin` trailer of a failed call. */
export interface StatusDetails {
  code: number;
  message: string;
  oauth: OAuthError | undefined;
  detailTypes: string[];
}

export function decodeStatusDetails(error: grpc.ServiceError): StatusDetails {
  const [raw] = error.metadata.get("grpc-status-details-bin");
  assert.ok(Buffer.isBuffer(raw), "grpc-status-details-bin trailer is present");
  const status = fromBinary(StatusSchema, raw) as unknown as { code: number; message: string; details: Any[] };
  const oauthAny = status.details.find((d) => d.typeUrl.endsWith("/tessera.exchange.v1.OAuthError"));
  return {
    code: status.code,
    message: status.message,
    oauth: oauthAny ? anyUnpack(oauthAny, OAuthErrorSchema) : undefined,
    detailTypes: status.details.map((d) => d.typeUrl),
  };
}

/** `authorization: Basic` metadata per RFC 6749 §2.3.1 (form-urlencoded id and secret). */
export function basic(clientId: string, secret: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  const pair = `${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`;
  metadata.add("authorization", `Basic ${Buffer.from(pair).toString("base64")}`);
  return metadata;
}

/** Calls a unary method; resolves with the response or the ServiceError. */
export function call<Req, Res>(method: Unary<Req, Res>, client: TokenExchangeClient, request: Req, metadata: grpc.Metadata) {
  return new Promise<{ response?: Res; error?: grpc.ServiceError }>((resolve) => {
    method.call(client, request, metadata, (error, response) => resolve(error ? { error } : { response }));
  });
}
