import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { bearerTokenOf, runWithIncomingToken } from "../incoming-context.js";
import { TokenVerificationError, type TokenVerifier } from "./token-verifier.js";

/**
 * A Connect server interceptor: verifies the `authorization: Bearer` token of each call with `verifier` and runs
 * the handler with it as the incoming token (so outgoing exchange interceptors use it, and handlers read it with
 * `currentIncomingToken()`). A missing or bad token fails the call with `Unauthenticated` (RFC 6750 §3.1), an unreachable JWKS with
 * `Unavailable`.
 */
export function verifyInterceptor(verifier: TokenVerifier): Interceptor {
  return (next) => async (request) => {
    const token = bearerTokenOf(request.header.get("authorization"));
    if (!token) throw new ConnectError("missing bearer token", Code.Unauthenticated);
    let verified;
    try {
      verified = await verifier(token);
    } catch (error) {
      if (error instanceof TokenVerificationError) throw new ConnectError(error.message, error.unavailable ? Code.Unavailable : Code.Unauthenticated);
      throw error;
    }
    return runWithIncomingToken({ token, verified }, () => next(request));
  };
}
