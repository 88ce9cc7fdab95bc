import { signJws, type JwsKey } from "./jws-algorithms.js";

/** RFC 7515 §7.1: three segments; RFC 7515 §2: base64url without padding, nothing but its alphabet. */
const COMPACT_SERIALIZATION = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/** RFC 8259 §8.1: JSON text is UTF-8; invalid sequences are refused, not replaced. */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A compact JWS taken apart; nothing checked yet but its form and that its header is a JSON object. */
export interface CompactJws {
  /** The JOSE Header (RFC 7515 §4). */
  header: Record<string, unknown>;
  /** ASCII(BASE64URL(header) '.' BASE64URL(payload)): what the signature covers (RFC 7515 §5.2 step 8). */
  signingInput: Buffer;
  /** BASE64URL(payload): decode it with {@link decodeJsonObject} once the signature holds. */
  encodedPayload: string;
  signature: Buffer;
}

/**
 * Signs `payload` with `key` in the JWS Compact Serialization (RFC 7515 §7.1):
 * BASE64URL(UTF8(header)) '.' BASE64URL(UTF8(payload)) '.' BASE64URL(signature).
 */
export function signCompactJws(header: Record<string, unknown>, payload: Record<string, unknown>, key: JwsKey): string {
  const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`;
  return `${signingInput}.${signJws(key, Buffer.from(signingInput)).toString("base64url")}`;
}

/** Takes a compact JWS apart (RFC 7515 §5.2 steps 1–3); undefined when `token` is not one. */
export function parseCompactJws(token: string): CompactJws | undefined {
  const segments = COMPACT_SERIALIZATION.exec(token);
  if (!segments) return undefined;
  const [, encodedHeader, encodedPayload, encodedSignature] = segments;
  const header = decodeJsonObject(encodedHeader);
  const signature = decodeSegment(encodedSignature);
  if (!header || !signature) return undefined;
  return { header, signingInput: Buffer.from(`${encodedHeader}.${encodedPayload}`), encodedPayload, signature };
}

/** A base64url segment holding a JSON object in UTF-8 (RFC 7515 §5.2 step 3, RFC 7519 §7.2 step 10); undefined otherwise. */
export function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeSegment(segment);
  if (!bytes) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function encodeJson(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/**
 * The bytes of a base64url segment, undefined unless the segment is their one canonical encoding:
 * Buffer's decoder skips what it cannot read (a length that is no whole number of bytes, unused
 * bits set in the last character), which would give one signature several spellings.
 */
function decodeSegment(segment: string): Buffer | undefined {
  const bytes = Buffer.from(segment, "base64url");
  return bytes.toString("base64url") === segment ? bytes : undefined;
}
