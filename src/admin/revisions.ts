import { createHash, randomUUID } from "node:crypto";

/** Anything the AdminService versions with an etag. */
export interface Versioned {
  etag?: string;
}

/** A new etag for an object the AdminService writes. */
export function newEtag(): string {
  return randomUUID().replaceAll("-", "").slice(0, 20);
}

/**
 * The etag of an object: the one its last admin write stored, or (an object imported from a realm
 * file or made by a grant, never written by the AdminService) a digest of its content.
 */
export function etagOf(object: Versioned): string {
  if (object.etag) return object.etag;
  const { etag: _none, ...content } = object;
  return `h${digestOf(content).slice(0, 19)}`;
}

/** SHA-256 (base64url) of a value's canonical JSON: object keys sorted, so equal content digests equal. */
export function digestOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("base64url");
}

/** JSON with object keys sorted at every depth; Dates as ISO strings; `undefined` members left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sorted(value));
}

function sorted(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(sorted);
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort()
        .map((key) => [key, sorted(record[key])]),
    );
  }
  return value;
}
