import { SpanKind, type Span } from "@opentelemetry/api";
import { inSpan } from "../ops/tracing.js";

/** Thrown when an identity provider cannot be reached or answers garbage; callers answer `temporarily_unavailable`. */
export class ProviderUnavailableError extends Error {
  override readonly name = "ProviderUnavailableError";
}

/** What a request to an identity provider fetches: the span's `tessera.provider.fetch`. */
export type ProviderFetchKind = "discovery" | "jwks" | "introspection";

/** Limits of every request Tessera makes to an identity provider. */
export interface ProviderFetchOptions {
  timeoutMs?: number;
  maxBytes?: number;
}

/**
 * Fetches JSON from an identity provider with a timeout and a size limit. Any failure (network,
 * timeout, status, oversize, not JSON) is a {@link ProviderUnavailableError} naming the URL's
 * origin, never a token or secret. Traced as a `provider {kind}` client span: the provider's
 * origin and path (never the query or the body) and the status.
 */
export function fetchProviderJson(kind: ProviderFetchKind, url: string, init: RequestInit = {}, options: ProviderFetchOptions = {}): Promise<unknown> {
  const { origin, pathname } = new URL(url);
  const attributes = { "tessera.provider.fetch": kind, "url.full": `${origin}${pathname}`, "http.request.method": init.method ?? "GET" };
  return inSpan(`provider ${kind}`, attributes, (span) => fetchJson(url, init, options, span), SpanKind.CLIENT);
}

async function fetchJson(url: string, init: RequestInit, options: ProviderFetchOptions, span: Span | undefined): Promise<unknown> {
  const { timeoutMs = 5000, maxBytes = 1 << 20 } = options;
  const where = new URL(url).origin;
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new ProviderUnavailableError(`${where} unreachable: ${(error as Error).name}`, { cause: error });
  }
  span?.setAttribute("http.response.status_code", response.status);
  if (!response.ok) {
    await response.body?.cancel();
    throw new ProviderUnavailableError(`${where} answered ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? 0);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new ProviderUnavailableError(`${where} answered more than ${maxBytes} bytes`);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new ProviderUnavailableError(`${where} answer unreadable: ${(error as Error).name}`, { cause: error });
  }
  if (text.length > maxBytes) throw new ProviderUnavailableError(`${where} answered more than ${maxBytes} bytes`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderUnavailableError(`${where} answered something that is not JSON`);
  }
}
