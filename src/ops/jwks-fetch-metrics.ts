import diagnosticsChannel from "node:diagnostics_channel";
import type { Histogram } from "prom-client";

/** What undici (Node's `fetch`) publishes about a request on its diagnostics channels. */
interface UndiciRequest {
  headers: string | string[];
}

/** jose's `createRemoteJWKSet` sends this User-Agent (`jose/vX.Y.Z`) unless told otherwise. */
const JOSE_USER_AGENT = /(?:^|\r\n|,)user-agent(?::\s*|,)jose\//i;

function isJwksFetch(request: UndiciRequest): boolean {
  const headers = Array.isArray(request.headers) ? request.headers.join(",") : request.headers;
  return JOSE_USER_AGENT.test(headers);
}

/**
 * Times the remote JWK Set fetches of client authentication (`jwksUri` clients), without a hook in
 * the grant code: Node's `fetch` publishes each request on undici's diagnostics channels, and jose
 * marks its fetches with its User-Agent. Counts every such fetch of the process. Returns the
 * function that stops observing.
 */
export function observeJwksFetches(histogram: Histogram<"result">): () => void {
  const started = new WeakMap<object, bigint>();
  const finish = (request: object, result: string) => {
    const start = started.get(request);
    if (start === undefined) return;
    started.delete(request);
    histogram.observe({ result }, Number(process.hrtime.bigint() - start) / 1e9);
  };
  const onCreate = (message: unknown) => {
    const { request } = message as { request: UndiciRequest };
    if (isJwksFetch(request)) started.set(request, process.hrtime.bigint());
  };
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    finish(request, response.statusCode >= 200 && response.statusCode < 300 ? "ok" : "http_error");
  };
  const onError = (message: unknown) => finish((message as { request: object }).request, "network_error");
  const channels: [string, (message: unknown) => void][] = [
    ["undici:request:create", onCreate],
    ["undici:request:headers", onHeaders],
    ["undici:request:error", onError],
  ];
  for (const [name, listener] of channels) diagnosticsChannel.subscribe(name, listener);
  return () => {
    for (const [name, listener] of channels) diagnosticsChannel.unsubscribe(name, listener);
  };
}
