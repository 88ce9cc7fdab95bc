/**
 * Fuzzing every RPC of TokenExchangeService and AdminService: any request message (built from the
 * method's descriptor), sent over gRPC to the main port and to `--grpc-port`, as nobody, as a
 * client, as a realm admin and as an admin. Every answer is a success or a gRPC status that a
 * caller can act on, never INTERNAL or UNKNOWN; token service refusals carry the OAuth error
 * detail with a code of the error table; bytes that are no protobuf are refused, not crashed on.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { TokenExchangeService } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { oauthDetailOf } from "../../src/rpc/errors.js";
import type { AdminCaller } from "../support/admin-client.js";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { fuzzParameters, fuzzString, GRANT_TYPES, messageOf, TOKEN_TYPES } from "./fuzz-values.js";

const REALM = "fuzz-rpc";
const OAUTH_CODES = new Set(["invalid_request", "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_target", "invalid_grant", "not_linked", "not_found", "temporarily_unavailable"]);
/** Statuses no request, however wrong, may cause: they mean the server failed. */
const SERVER_FAILURES = new Set([Code.Internal, Code.Unknown, Code.DataLoss, Code.Unavailable]);

type Caller = "nobody" | "client" | "realm admin" | "admin";

describe("fuzzing every RPC's request message", () => {
  let harness: TesseraHarness;
  let known: string[];
  let admins: Record<"realm admin" | "admin", AdminCaller>;
  const sessions: Http2SessionManager[] = [];
  let transports: Transport[];

  before(async () => {
    // Without the throttle: most cases carry wrong credentials, and 429s would hide the rules behind it.
    harness = await startTessera({ grpcPort: true, authThrottle: { enabled: false } });
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    admins = { "realm admin": await harness.adminCaller([`admin:${REALM}`]), admin: await harness.adminCaller() };
    const issued = await postForm(harness.tokenUrl(REALM), { grant_type: "client_credentials", scope: "orders.read" }, { basic: ["gateway", SECRETS.gateway] });
    assert.equal(issued.status, 200);
    known = [REALM, "master", "demo", ...Object.keys(SECRETS), ...Object.values(SECRETS), "cli", "batch-job", "alice", "bob", "orders.read", "orders-api", "https://orders.example.com", issued.body.access_token as string, ...TOKEN_TYPES, ...GRANT_TYPES, "clientId", "enabled", "secret", "displayName"];
    for (const baseUrl of [harness.baseUrl, `http://${harness.grpcAddress}`]) sessions.push(new Http2SessionManager(baseUrl));
    transports = sessions.map((sessionManager) => createGrpcTransport({ baseUrl: sessionManager.authority, sessionManager }));
  });

  after(async () => {
    for (const session of sessions) session.abort();
    await harness?.stop();
  });

  const headersOf = async (caller: Caller): Promise<Record<string, string>> => {
    if (caller === "nobody") return {};
    if (caller === "client") return { authorization: `Basic ${Buffer.from(`gateway:${SECRETS.gateway}`).toString("base64")}` };
    return admins[caller].headers();
  };

  const fuzzService = (service: DescService) =>
    it(`${service.name}: every method answers any message with a status a caller can act on`, async () => {
      const strings = fuzzString(known);
      const cases = fc.oneof(
        ...service.methods.map((method: DescMethod) =>
          fc.record({
            method: fc.constant(method),
            message: messageOf(method.input, strings),
            caller: fc.constantFrom<Caller>("nobody", "client", "realm admin", "admin"),
            port: fc.constantFrom(0, 1),
          }),
        ),
      );
      await fc.assert(
        fc.asyncProperty(cases, async ({ method, message, caller, port }) => {
          const client = createClient(service, transports[port]) as unknown as Record<string, (input: unknown, options: object) => Promise<unknown>>;
          try {
            await client[method.localName](message, { headers: await headersOf(caller), timeoutMs: 10_000 });
          } catch (failure) {
            assert.ok(failure instanceof ConnectError, `${method.name}: ${String(failure)}`);
            assert.ok(!SERVER_FAILURES.has(failure.code), `${method.name} as ${caller} on port ${port}: ${Code[failure.code]} ${failure.rawMessage}`);
            if (service === TokenExchangeService && failure.code !== Code.InvalidArgument) {
              const detail = oauthDetailOf(failure);
              assert.ok(detail && OAUTH_CODES.has(detail.error), `${method.name}: no OAuth detail from the table on ${Code[failure.code]} ${failure.rawMessage}`);
            }
          }
        }),
        fuzzParameters(1000),
      );
    });

  fuzzService(TokenExchangeService);
  fuzzService(AdminService);

  it("refuses request bodies that are no message, on every method, with a status and no crash", async () => {
    const methods = [...TokenExchangeService.methods, ...AdminService.methods];
    const bodies = fc.oneof(
      fc.record({ type: fc.constant("application/proto"), bytes: fc.uint8Array({ minLength: 1, maxLength: 256 }) }),
      fc.record({ type: fc.constant("application/json"), bytes: fc.string({ maxLength: 100 }).map((text) => new TextEncoder().encode(text)) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), bodies, async (method, body) => {
        const response = await fetch(`${harness.baseUrl}/${method.parent.typeName}/${method.name}`, {
          method: "POST",
          headers: { "content-type": body.type, ...(await admins.admin.headers()) },
          body: Buffer.from(body.bytes),
        });
        const answered = Buffer.from(await response.arrayBuffer());
        if (response.status < 500) return; // a success answers in protobuf, an error in JSON
        const answer = JSON.parse(answered.toString("utf8")) as { code?: string; message?: string };
        // connect-es (checked against 2.3.0) answers bytes that are no protobuf message with
        // INTERNAL "parse binary: ...", as grpc-java does; connect-go says INVALID_ARGUMENT.
        // Anything else at 5xx is a failure of Tessera's own.
        assert.equal(body.type, "application/proto", `${method.name}: ${response.status} for JSON that is no message`);
        assert.equal(answer.code, "internal");
        assert.match(answer.message ?? "", /^parse binary: /, `${method.name}: ${response.status} ${answer.message}`);
      }),
      fuzzParameters(500),
    );
  });
});
