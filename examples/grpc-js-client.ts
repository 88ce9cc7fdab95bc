// An internal service calling Tessera with a plain @grpc/grpc-js stub loaded at run time from proto/
// (keepCase: the fields keep their RFC 8693 names).
// Run against `npm start`:  npx tsx examples/grpc-js-client.ts   (TESSERA_URL overrides http://127.0.0.1:8080)
import { credentials, loadPackageDefinition, Metadata, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const url = new URL(process.env.TESSERA_URL ?? "http://127.0.0.1:8080");
const definition = loadSync("tessera/exchange/v1/token_exchange_service.proto", { includeDirs: ["proto"], keepCase: true, longs: Number });
type Unary = (request: object, metadata: Metadata, done: (error: ServiceError | null, response: Record<string, unknown>) => void) => void;
const { TokenExchangeService } = (loadPackageDefinition(definition).tessera as Record<string, Record<string, Record<string, unknown>>>).exchange.v1 as {
  TokenExchangeService: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Record<string, Unary> & { close(): void };
};
const stub = new TokenExchangeService(url.host, credentials.createInsecure());
const call = (method: string, request: object, metadata: Metadata) =>
  new Promise<Record<string, unknown>>((resolve, reject) => stub[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response))));

// client_secret_basic, exactly as over HTTP.
const metadata = new Metadata();
metadata.set("authorization", `Basic ${Buffer.from("gateway:gateway-secret").toString("base64")}`);

const service = await call("ClientCredentials", { realm: "demo", scope: "orders.read" }, metadata);
const exchanged = await call(
  "ExchangeToken",
  {
    realm: "demo",
    subject_token: service.access_token,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    audience: ["orders-api"],
  },
  metadata,
);
console.log(JSON.stringify({ issued_token_type: exchanged.issued_token_type, scope: exchanged.scope, expires_in: exchanged.expires_in }));
stub.close();
