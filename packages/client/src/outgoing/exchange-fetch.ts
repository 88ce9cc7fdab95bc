import { downstreamToken, type DownstreamOptions } from "./downstream-token.js";

/** Options of {@link exchangeFetch}. */
export interface ExchangeFetchOptions extends DownstreamOptions {
  /** The fetch to wrap (default: the global one). */
  fetch?: typeof fetch;
}

/**
 * A `fetch` whose requests carry `Authorization: Bearer` with the incoming token exchanged for the downstream
 * audience. A refused exchange rejects with the {@link TokenExchangeError}; no request is sent.
 */
export function exchangeFetch(options: ExchangeFetchOptions): typeof fetch {
  const { fetch: inner = fetch, ...downstream } = options;
  return async (input, init) => {
    const token = await downstreamToken(downstream);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set("authorization", `Bearer ${token}`);
    return inner(input, { ...init, headers });
  };
}
