// An internal service using @tessera/client: exchange a token for orders-api over gRPC, twice (the second comes
// from the cache), and verify the result as orders-api would.
// Run against `npm start`:  npx tsx examples/tessera-client.ts   (TESSERA_URL overrides http://127.0.0.1:8080)
import { createGrpcTransport } from "@connectrpc/connect-node";
import { connectExchange, createTokenVerifier, TokenExchanger } from "@tessera/client";

const baseUrl = process.env.TESSERA_URL ?? "http://127.0.0.1:8080";
const issuer = `${baseUrl}/realms/demo`;
let calls = 0;
const exchanger = new TokenExchanger({
  call: connectExchange({ transport: createGrpcTransport({ baseUrl }), realm: "demo", auth: { clientId: "gateway", clientSecret: "gateway-secret" } }),
  hooks: { onExchange: () => calls++ },
});

// The gateway's own token stands in for the token a request came in with.
const own = await fetch(`${issuer}/protocol/openid-connect/token`, {
  method: "POST",
  headers: { authorization: `Basic ${Buffer.from("gateway:gateway-secret").toString("base64")}` },
  body: new URLSearchParams({ grant_type: "client_credentials", scope: "orders.read inventory.read" }),
}).then((response) => response.json() as Promise<{ access_token: string }>);

const request = { subjectToken: own.access_token, audience: ["orders-api"] };
const exchanged = await exchanger.exchange(request);
await exchanger.exchange(request);
const verified = await createTokenVerifier({ issuer, audience: "orders-api" })(exchanged.accessToken);
console.log(JSON.stringify({ issued_token_type: exchanged.issuedTokenType, scope: verified.scopes.join(" "), expires_in: exchanged.expiresIn, calls_to_tessera: calls }));
