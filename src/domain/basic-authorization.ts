/**
 * `Authorization: Basic` for client credentials per RFC 6749 §2.3.1: base64 of the form-urlencoded
 * client id, a colon, and the form-urlencoded secret.
 */
export function basicAuthorization(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

/**
 * Parses `Authorization: Basic` per RFC 6749 §2.3.1: base64 of the form-urlencoded client id,
 * a colon, and the form-urlencoded secret. Returns undefined when malformed.
 */
export function parseBasicAuthorization(header: string): { clientId: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  try {
    const clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
    const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " "));
    return clientId ? { clientId, secret } : undefined;
  } catch {
    return undefined;
  }
}
