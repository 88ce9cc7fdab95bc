/**
 * Fuzzing the OAuth form adapter over real HTTP: any method, realm, path, headers and body (form
 * parameters Tessera reads, unknown ones, repeats, raw bytes, other content types) get an answer
 * below 500 whose error, if any, is a code of the error table (RFC 6749 §5.2, EXCHANGE.md
 * "Errors"), and no error description repeats a secret or token the request carried.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { postForm } from "../support/oauth-client.js";
import { startTessera, type TesseraHarness } from "../support/tessera-harness.js";
import { buildTestRealm, SECRETS } from "../support/test-realm.js";
import { fuzzParameters, fuzzString, GRANT_TYPES, TOKEN_TYPES } from "./fuzz-values.js";

const REALM = "fuzz-form";
const OAUTH_CODES = new Set(["invalid_request", "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_target", "invalid_grant", "not_linked", "not_found", "temporarily_unavailable"]);
const PARAMETERS = ["grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "subject_token", "subject_token_type", "actor_token", "actor_token_type", "requested_token_type", "audience", "resource", "scope", "requested_subject", "subject_issuer", "requested_issuer", "refresh_token", "token", "token_type_hint"];
/** Parameters whose values are credentials: an error description must never repeat them. */
const CREDENTIALS = new Set(["client_secret", "client_assertion", "subject_token", "actor_token", "refresh_token", "token"]);
const PATHS = ["protocol/openid-connect/token", "protocol/openid-connect/token/introspect", "protocol/openid-connect/revoke", "protocol/openid-connect/logout", "protocol/openid-connect/certs", ".well-known/openid-configuration", "protocol/openid-connect/auth", ""];
const CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "application/json", "text/plain", "multipart/form-data; boundary=x", ""];

/** `text` with lone surrogates replaced, as encodeURIComponent takes only well-formed UTF-16. */
const wellFormed = (text: string): string => Buffer.from(text, "utf8").toString("utf8");

interface FuzzRequest {
  method: string;
  realm: string;
  path: string;
  contentType: string;
  basic?: [string, string];
  body: { form: [string, string][] } | { raw: Uint8Array };
}

describe("fuzzing the OAuth form endpoints", () => {
  let harness: TesseraHarness;
  let known: string[];
  let secrets: Set<string>;

  before(async () => {
    // Without the throttle: most cases carry wrong credentials, and 429s would hide the rules behind it.
    harness = await startTessera({ authThrottle: { enabled: false } });
    await harness.repository.importRealm((await buildTestRealm(REALM)).bundle);
    const issued = await postForm(harness.tokenUrl(REALM), { grant_type: "client_credentials", scope: "orders.read" }, { basic: ["gateway", SECRETS.gateway] });
    assert.equal(issued.status, 200);
    secrets = new Set([...Object.values(SECRETS), issued.body.access_token as string]);
    known = [REALM, "master", ...Object.keys(SECRETS), ...Object.values(SECRETS), "cli", "batch-job", "alice", "orders.read", "orders-api", "https://orders.example.com", issued.body.access_token as string, ...TOKEN_TYPES, ...GRANT_TYPES, "access_token", "refresh_token"];
  });

  after(async () => {
    await harness?.stop();
  });

  const requests = (): fc.Arbitrary<FuzzRequest> => {
    const value = fuzzString(known);
    const name = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PARAMETERS) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });
    return fc.record(
      {
        method: fc.constantFrom("POST", "POST", "POST", "GET", "PUT", "DELETE", "OPTIONS"),
        realm: fc.oneof({ weight: 4, arbitrary: fc.constant(REALM) }, { weight: 1, arbitrary: value }),
        path: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PATHS) }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }) }),
        contentType: fc.oneof({ weight: 4, arbitrary: fc.constant(CONTENT_TYPES[0]) }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) }),
        basic: fc.option(fc.tuple(value, value), { nil: undefined }),
        body: fc.oneof(
          { weight: 5, arbitrary: fc.record({ form: fc.array(fc.tuple(name, value), { maxLength: 10 }) }) },
          { weight: 1, arbitrary: fc.record({ raw: fc.uint8Array({ maxLength: 512 }) }) },
        ),
      },
      { requiredKeys: ["method", "realm", "path", "contentType", "body"] },
    );
  };

  it("answers every request below 500 with an error from the table and no credential repeated", async () => {
    await fc.assert(
      fc.asyncProperty(requests(), async (request) => {
        const headers: Record<string, string> = {};
        if (request.contentType) headers["content-type"] = request.contentType;
        if (request.basic) headers.authorization = `Basic ${Buffer.from(request.basic.join(":")).toString("base64")}`;
        const body = "form" in request.body ? new URLSearchParams(request.body.form).toString() : Buffer.from(request.body.raw);
        const hasBody = request.method !== "GET" && request.method !== "OPTIONS";
        const url = `${harness.baseUrl}/realms/${encodeURIComponent(wellFormed(request.realm))}/${request.path}`;
        const response = await fetch(url, { method: request.method, headers, body: hasBody ? body : undefined });
        const text = await response.text();
        assert.ok(response.status < 500, `${request.method} ${request.path}: ${response.status} ${text.slice(0, 200)}`);
        if (response.status < 400) return;
        const answer = JSON.parse(text) as { error?: unknown; error_description?: unknown };
        assert.ok(typeof answer.error === "string" && OAUTH_CODES.has(answer.error), `error ${String(answer.error)} is not in the table`);
        const description = String(answer.error_description ?? "");
        const form = "form" in request.body ? request.body.form : [];
        // Values the request also sent where an error may name them (the realm, a client id, a scope).
        const echoable = new Set([request.realm, ...(request.basic ? [request.basic[0]] : []), ...form.filter(([key]) => !CREDENTIALS.has(key)).map(([, v]) => v)]);
        const credentials = [...form.filter(([key]) => CREDENTIALS.has(key)).map(([, v]) => v), ...(request.basic ? [request.basic[1]] : [])];
        for (const credential of credentials) {
          // Only the realm's real secrets and tokens: a fuzzed "secret" may be a word such as a parameter name.
          if (!secrets.has(credential) || echoable.has(credential)) continue;
          assert.ok(!description.includes(credential), `the error description repeats a credential: ${description.slice(0, 120)}`);
        }
      }),
      fuzzParameters(1500),
    );
    const still = await postForm(harness.tokenUrl(REALM), { grant_type: "client_credentials" }, { basic: ["gateway", SECRETS.gateway] });
    assert.equal(still.status, 200, "the server still issues tokens after the run");
  });
});
