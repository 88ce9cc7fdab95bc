import { create } from "@bufbuild/protobuf";
import { ExplainExchangeRequestSchema, type ExplainExchangeResponse } from "../../gen/tessera/exchange/v1/token_exchange_service_pb.js";
import { GrantType } from "../domain/index.js";
import { oauthError } from "../exchange/errors.js";
import type { TokenExchangeRpc } from "../rpc/token-exchange-service.js";
import { transportOf } from "./client-certificate.js";
import type { FormParameters } from "./form.js";
import type { HttpRequest, HttpResponse } from "./node-types.js";
import { sendJson } from "./responses.js";
import { exchangeRequestOf } from "./token-endpoint.js";

/** The explanation as JSON: inputs and claims as objects, empty fields left out. */
function explanationJson({ rules, outcome }: ExplainExchangeResponse) {
  return {
    rules: rules.map((rule) => ({
      name: rule.name,
      reference: rule.reference,
      inputs: Object.fromEntries(Object.entries(rule.inputs).map(([name, json]) => [name, JSON.parse(json) as unknown])),
      passed: rule.passed,
      ...(rule.detail && { detail: rule.detail }),
    })),
    outcome: outcome && {
      issued: outcome.issued,
      ...(outcome.error && { error: outcome.error, error_description: outcome.errorDescription }),
      ...(outcome.claimsJson && { claims: JSON.parse(outcome.claimsJson) as unknown }),
      ...(outcome.issued && { issued_token_type: outcome.issuedTokenType, token_type: outcome.tokenType, scope: outcome.scope, refresh_token: outcome.refreshToken }),
    },
  };
}

/**
 * `POST /realms/{realm}/protocol/openid-connect/token/explain`: the token endpoint's token exchange
 * form body, answered with the rule trace and outcome of ExplainExchange as JSON (200 whatever the
 * outcome; a refused caller gets the OAuth error as from the token endpoint).
 */
export async function handleExplainRequest(
  rpc: TokenExchangeRpc,
  realm: string,
  form: FormParameters,
  req: HttpRequest,
  res: HttpResponse,
): Promise<void> {
  // RFC 8693 §2.1: only a token exchange has rules to explain.
  if (form.get("grant_type") !== GrantType.tokenExchange) throw oauthError.unsupportedGrantType(`explain takes grant_type ${GrantType.tokenExchange}`);
  const explained = await rpc.explainExchange(create(ExplainExchangeRequestSchema, { exchange: exchangeRequestOf(realm, form) }), transportOf(req));
  sendJson(res, 200, explanationJson(explained));
}
