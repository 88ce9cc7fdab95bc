// A standard OAuth client library (openid-client 6) against Tessera's form endpoint: discovery, client
// credentials, then an RFC 8693 token exchange.
// Run against `npm start`:  npx tsx examples/openid-client.ts   (TESSERA_URL overrides http://127.0.0.1:8080)
import * as oauth from "openid-client";

const base = process.env.TESSERA_URL ?? "http://127.0.0.1:8080";
const config = await oauth.discovery(new URL(`${base}/realms/demo`), "gateway", undefined, oauth.ClientSecretBasic("gateway-secret"), {
  execute: [oauth.allowInsecureRequests], // plain http on a developer machine only
});
const service = await oauth.clientCredentialsGrant(config, { scope: "orders.read" });
const exchanged = await oauth.genericGrantRequest(config, "urn:ietf:params:oauth:grant-type:token-exchange", {
  subject_token: service.access_token,
  subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
  audience: "orders-api",
});
console.log(JSON.stringify({ issued_token_type: exchanged.issued_token_type, scope: exchanged.scope, expires_in: exchanged.expires_in }));
