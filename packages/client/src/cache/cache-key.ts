import { createHash } from "node:crypto";
import type { ExchangeParams } from "../exchange-types.js";

/**
 * The cache key of an exchange: a SHA-256 over the subject token, audiences, resources, scopes, actor token and
 * requested type, so no whole token is kept as a key. Lists are sorted: `a b` and `b a` ask for the same thing.
 */
export function exchangeCacheKey(params: ExchangeParams): string {
  const parts = [
    params.subjectToken,
    params.subjectTokenType ?? "",
    [...(params.audience ?? [])].sort(),
    [...(params.resource ?? [])].sort(),
    [...(params.scope ?? [])].sort(),
    params.actorToken ?? "",
    params.actorTokenType ?? "",
    params.requestedTokenType ?? "",
  ];
  // JSON keeps the parts apart: no value can imitate a separator.
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url");
}
