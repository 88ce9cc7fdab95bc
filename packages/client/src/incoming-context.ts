import { AsyncLocalStorage } from "node:async_hooks";
import type { VerifiedToken } from "./verify/token-verifier.js";

/** The token the current request came in with, and what verification found in it. */
export interface IncomingToken {
  /** The bearer token as received. */
  token: string;
  /** Its verified claims, when it was verified by this library. */
  verified?: VerifiedToken;
}

const storage = new AsyncLocalStorage<IncomingToken>();

/** Runs `fn` with `incoming` as the current request's token: outgoing interceptors exchange it. */
export function runWithIncomingToken<T>(incoming: IncomingToken, fn: () => T): T {
  return storage.run(incoming, fn);
}

/** The current request's token, set by {@link runWithIncomingToken} or the verify interceptor. */
export function currentIncomingToken(): IncomingToken | undefined {
  return storage.getStore();
}

/** The token of `Authorization: Bearer <token>` (RFC 6750 §2.1), or undefined for any other header. */
export function bearerTokenOf(authorization: string | null | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization ?? "");
  return match?.[1];
}
