import type { HttpRequest } from "./node-types.js";
import { OAuthError, oauthError } from "../exchange/errors.js";

/** Largest accepted form body, bytes. */
export const MAX_FORM_BYTES = 64 * 1024;

/** Thrown when the body is larger than {@link MAX_FORM_BYTES}; answered with 413. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
}

/** Parameters that may be given more than once (RFC 8693 §2.1, RFC 8707 §2). */
const REPEATABLE = new Set(["audience", "resource"]);

/** A parsed form: single parameters and the repeatable ones. */
export interface FormParameters {
  get(name: string): string | undefined;
  getAll(name: string): string[];
}

/**
 * Reads an `application/x-www-form-urlencoded` body (RFC 6749 §3.2). Another content type, a
 * parameter without a value or one given twice (other than `audience`/`resource`) is
 * `invalid_request` (RFC 6749 §3.1: parameters MUST NOT be included more than once).
 */
export async function readForm(req: HttpRequest): Promise<FormParameters> {
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    req.resume();
    throw oauthError.invalidRequest("content type must be application/x-www-form-urlencoded");
  }
  const params = new URLSearchParams(await readBody(req));
  const seen = new Set<string>();
  for (const name of params.keys()) {
    // RFC 6749 §3.1: request parameters MUST NOT be included more than once.
    if (seen.has(name) && !REPEATABLE.has(name)) throw oauthError.invalidRequest(`parameter ${name} is repeated`);
    seen.add(name);
  }
  return {
    // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
    get: (name) => params.get(name) || undefined,
    getAll: (name) => params.getAll(name).filter((v) => v !== ""),
  };
}

async function readBody(req: HttpRequest): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_FORM_BYTES) {
    req.resume();
    throw new BodyTooLargeError();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) {
      req.resume();
      throw new BodyTooLargeError();
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new OAuthError("invalid_request", "body is not valid UTF-8");
  }
}
