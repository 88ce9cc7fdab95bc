import { REALM_NAME_PATTERN, type IdentityProvider } from "../domain/index.js";
import { ASSERTION_ALGORITHMS } from "../exchange/client-auth.js";
import { conditionSyntaxProblem } from "../idp/claim-conditions.js";
import type { ValidationIssue } from "./issues.js";
import { publicJwkProblem } from "./jwk.js";
import { isHttpUrl } from "./uris.js";

/**
 * Checks an identity provider: alias, an absolute issuer URL, key sources, accepted audiences,
 * asymmetric algorithms only (never `none` or HMAC: RFC 8725 §3.1), conditions that parse as CEL
 * with unique names, and http(s) endpoints. Paths are relative to the provider.
 */
export function validateIdentityProvider(provider: IdentityProvider): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (!REALM_NAME_PATTERN.test(provider.alias)) {
    issues.push({ path: ["alias"], message: 'expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit' });
  }
  if (!isHttpUrl(provider.issuer)) issues.push({ path: ["issuer"], message: "expected an absolute http(s) URL" });
  if (provider.jwks !== undefined && provider.jwksUri !== undefined) {
    issues.push({ path: ["jwksUri"], message: "expected either jwks or jwksUri, not both" });
  }
  if (provider.jwksUri !== undefined && !isHttpUrl(provider.jwksUri)) {
    issues.push({ path: ["jwksUri"], message: "expected an absolute http(s) URL" });
  }
  provider.jwks?.keys.forEach((key, i) => {
    const problem = publicJwkProblem(key);
    if (problem !== undefined) issues.push({ path: ["jwks", "keys", i], message: problem });
  });
  if (provider.audiences.length === 0) issues.push({ path: ["audiences"], message: "expected at least one accepted audience" });
  provider.audiences.forEach((audience, i) => {
    if (audience === "") issues.push({ path: ["audiences", i], message: "expected a non-empty string" });
  });
  for (const [attribute, claim] of Object.entries(provider.claims.attributes)) {
    if (attribute === "" || claim === "") issues.push({ path: ["claims", "attributes"], message: "expected non-empty attribute and claim names" });
  }
  if (provider.introspection && provider.introspection.encryptedClientSecret === "") {
    issues.push({ path: ["introspection", "clientSecret"], message: "expected a client secret (exports leave it out: add it)" });
  }
  if (provider.introspection && provider.introspection.clientId === "") {
    issues.push({ path: ["introspection", "clientId"], message: "expected a non-empty string" });
  }
  if (provider.algorithms.length === 0) issues.push({ path: ["algorithms"], message: "expected at least one algorithm" });
  provider.algorithms.forEach((alg, i) => {
    if (!ASSERTION_ALGORITHMS.includes(alg)) {
      issues.push({ path: ["algorithms", i], message: `expected one of ${ASSERTION_ALGORITHMS.join(" | ")}, got ${JSON.stringify(alg)}` });
    }
  });
  if (provider.maxTokenAge !== undefined && (!Number.isSafeInteger(provider.maxTokenAge) || provider.maxTokenAge <= 0)) {
    issues.push({ path: ["maxTokenAge"], message: "expected a positive integer (seconds)" });
  }
  const names = new Set<string>();
  provider.conditions.forEach((condition, i) => {
    if (condition.name === "") issues.push({ path: ["conditions", i, "name"], message: "expected a non-empty string" });
    if (names.has(condition.name)) issues.push({ path: ["conditions", i, "name"], message: "expected a unique condition name" });
    names.add(condition.name);
    const problem = conditionSyntaxProblem(condition.expression);
    if (problem !== undefined) issues.push({ path: ["conditions", i, "expression"], message: problem });
  });
  for (const key of ["accountLinkUrl"] as const) {
    const url = provider[key];
    if (url !== undefined && !isHttpUrl(url)) issues.push({ path: [key], message: "expected an absolute http(s) URL" });
  }
  if (provider.introspection && !isHttpUrl(provider.introspection.endpoint)) {
    issues.push({ path: ["introspection", "endpoint"], message: "expected an absolute http(s) URL" });
  }
  return issues;
}
