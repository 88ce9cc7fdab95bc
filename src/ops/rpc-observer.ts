import type { Interceptor } from "@connectrpc/connect";
import type { TesseraMetrics } from "./metrics.js";
import { currentRequest } from "./request-context.js";
import { noteRpcOnSpan, stringField } from "./request-span.js";

const REFRESH_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token";

/**
 * Counts the tokens a token RPC answered with: an access token (of `issued_token_type` when the
 * answer has one) and a refresh token. Reads fields by name, so any RPC answering with
 * `access_token` / `refresh_token` is counted, whatever its schema.
 */
function countIssuedTokens(metrics: TesseraMetrics, request: unknown, response: unknown): void {
  const realm = stringField(request, "realm");
  if (stringField(response, "accessToken")) metrics.countIssued(realm, stringField(response, "issuedTokenType"));
  if (stringField(response, "refreshToken")) metrics.countIssued(realm, REFRESH_TOKEN_TYPE);
}

/**
 * The Connect interceptor of the RPC surfaces (gRPC, gRPC-Web, Connect): notes a failure's OAuth
 * error on the current request, counts issued tokens and notes the grant on the request's span.
 */
export function observingInterceptor(metrics: TesseraMetrics): Interceptor {
  return (next) => async (req) => {
    const record = currentRequest();
    if (!req.stream) noteRpcOnSpan(record, req.method.localName, req.message);
    try {
      const res = await next(req);
      if (!res.stream) {
        countIssuedTokens(metrics, req.message, res.message);
        noteRpcOnSpan(record, req.method.localName, req.message, res.message);
      }
      return res;
    } catch (error) {
      record?.fail(error);
      throw error;
    }
  };
}

/**
 * The same observation for callers that use an RPC implementation in-process (the OAuth HTTP
 * adapter): a Proxy whose methods count the tokens their answers carry and note the grant on the
 * request's span. Methods run on the implementation itself.
 */
export function observeRpcImplementation<T extends object>(implementation: T, metrics: TesseraMetrics): T {
  return new Proxy(implementation, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const record = currentRequest();
        noteRpcOnSpan(record, String(property), args[0]);
        const result: unknown = Reflect.apply(value, target, args);
        if (result instanceof Promise) {
          return result.then((response: unknown) => {
            countIssuedTokens(metrics, args[0], response);
            noteRpcOnSpan(record, String(property), args[0], response);
            return response;
          });
        }
        return result;
      };
    },
  });
}
