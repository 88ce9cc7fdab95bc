/** Thrown when an identity provider cannot be reached or answers garbage; callers answer `temporarily_unavailable`. */
export class ProviderUnavailableError extends Error {
  override readonly name = "ProviderUnavailableError";
}

/** Limits of every request Tessera makes to an identity provider. */
export interface ProviderFetchOptions {
  timeoutMs?: number;
  maxBytes?: number;
}

/**
 * Fetches JSON from an identity provider with a timeout and a size limit. Any failure (network,
 * timeout, status, oversize, not JSON) is a {@link ProviderUnavailableError} naming the URL's
 * origin, never a token or secret.
 */
export async function fetchProviderJson(url: string, init: RequestInit = {}, options: ProviderFetchOptions = {}): Promise<unknown> {
  const { timeoutMs = 5000, maxBytes = 1 << 20 } = options;
  const where = new URL(url).origin;
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new ProviderUnavailableError(`${where} unreachable: ${(error as Error).name}`, { cause: error });
  }
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
