import { createHash } from "node:crypto";
import { InvalidPageTokenError, type EventQuery, type Page, type PageRequest, type SessionQuery, type UserQuery } from "./realm-repository.js";

/**
 * Paging shared by both adapters.
 *
 * Listings are sorted newest first by a time, ties by id ascending. A page token is the base64url of a
 * JSON object naming the last item's sort key and a fingerprint of the listing and its filters, so a
 * token only continues the listing that produced it.
 */

/** Largest page any listing returns, whatever `pageSize` asks. */
export const MAX_PAGE_SIZE = 1000;

/** The sort key of a listed item: newest `time` first, then `id` ascending. */
export interface PageCursor {
  time: Date;
  id: string;
}

/** `pageSize` clamped to 1..{@link MAX_PAGE_SIZE} (fractions rounded down, NaN and below 1 give 1). */
export function pageSizeOf(request: PageRequest): number {
  const size = Math.floor(request.pageSize);
  if (!(size >= 1)) return 1;
  return Math.min(size, MAX_PAGE_SIZE);
}

/** What identifies a listing and its filters; `undefined` filters must be passed as `null`. */
export type PageShape = readonly (string | number | null)[];

/** The shape of a session listing: a page token only continues the same query. */
export function sessionPageShape(realm: string, query: SessionQuery): PageShape {
  return ["sessions", realm, query.userId ?? null, query.activeAt?.getTime() ?? null];
}

/** The shape of a user listing: a page token only continues the same query. */
export function userPageShape(realm: string, query: UserQuery): PageShape {
  return ["users", realm, query.usernamePrefix ?? null, query.email ?? null, query.enabled === undefined ? null : String(query.enabled)];
}

/** The shape of an event listing: a page token only continues the same query. */
export function eventPageShape(realm: string, query: EventQuery): PageShape {
  const { kind, clientId, subject, result, since, until } = query;
  return ["events", realm, kind ?? null, clientId ?? null, subject ?? null, result ?? null, since?.getTime() ?? null, until?.getTime() ?? null];
}

function fingerprint(shape: PageShape): string {
  return createHash("sha256").update(JSON.stringify(shape)).digest("base64url").slice(0, 22);
}

/** The token of the page after the one ending with `last`. */
export function encodePageToken(shape: PageShape, last: PageCursor): string {
  const token = { s: fingerprint(shape), t: last.time.getTime(), i: last.id };
  return Buffer.from(JSON.stringify(token), "utf8").toString("base64url");
}

/** The JSON object inside a page token; throws {@link InvalidPageTokenError} for anything else. */
function tokenPayload(token: string): Record<string, unknown> {
  const invalid = new InvalidPageTokenError("invalid page token");
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid;
  }
  if (typeof parsed !== "object" || parsed === null) throw invalid;
  return parsed as Record<string, unknown>;
}

/**
 * The cursor a page token names, or `undefined` for the first page (no token, or an empty one as proto3
 * sends). Throws {@link InvalidPageTokenError} when the token is malformed or belongs to another listing
 * or other filters.
 */
export function decodePageToken(shape: PageShape, token: string | undefined): PageCursor | undefined {
  if (token === undefined || token === "") return undefined;
  const invalid = () => new InvalidPageTokenError("invalid page token");
  const parsed = tokenPayload(token);
  const { s, t, i } = parsed;
  if (typeof s !== "string" || typeof i !== "string" || typeof t !== "number" || !Number.isSafeInteger(t)) {
    throw invalid();
  }
  if (s !== fingerprint(shape)) {
    throw new InvalidPageTokenError("the page token belongs to another listing or other filters");
  }
  const time = new Date(t);
  if (Number.isNaN(time.getTime())) throw invalid();
  return { time, id: i };
}

/** Whether `item` sorts after `cursor`: older, or as old with a greater id. */
export function isAfter(item: PageCursor, cursor: PageCursor): boolean {
  const a = item.time.getTime();
  const b = cursor.time.getTime();
  return a < b || (a === b && item.id > cursor.id);
}

/** The sort key of a session in a session listing: its start. */
export const sessionCursor = (session: { startedAt: Date; id: string }): PageCursor => ({ time: session.startedAt, id: session.id });

/** The sort key of an audit event in an event listing: its time. */
export const eventCursor = (event: { time: Date; id: string }): PageCursor => ({ time: event.time, id: event.id });

/** Newest first, ties by id ascending. */
export function compareNewestFirst(a: PageCursor, b: PageCursor): number {
  const byTime = b.time.getTime() - a.time.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * A page of `size` items out of `items` (already filtered, sorted and after the cursor), with the token
 * of the next page when `items` holds more than `size`.
 */
export function pageOf<T>(items: T[], size: number, shape: PageShape, cursorOf: (item: T) => PageCursor): Page<T> {
  if (items.length <= size) return { items };
  const page = items.slice(0, size);
  return { items: page, nextPageToken: encodePageToken(shape, cursorOf(page[page.length - 1])) };
}

/*
 * Listings sorted by a unique key ascending (realm names, client ids, scope names, aliases,
 * usernames): a page token names the last key of the page and the listing's fingerprint.
 */

/** The token of the page after the one ending with the item whose key is `lastKey`. */
export function encodeKeyPageToken(shape: PageShape, lastKey: string): string {
  return Buffer.from(JSON.stringify({ s: fingerprint(shape), k: lastKey }), "utf8").toString("base64url");
}

/**
 * The key a key page token names (items after it come next), or `undefined` for the first page.
 * Throws {@link InvalidPageTokenError} when the token is malformed or belongs to another listing.
 */
export function decodeKeyPageToken(shape: PageShape, token: string | undefined): string | undefined {
  if (token === undefined || token === "") return undefined;
  const invalid = () => new InvalidPageTokenError("invalid page token");
  const parsed = tokenPayload(token);
  const { s, k } = parsed;
  if (typeof s !== "string" || typeof k !== "string") throw invalid();
  if (s !== fingerprint(shape)) throw new InvalidPageTokenError("the page token belongs to another listing or other filters");
  return k;
}

/**
 * One page of `items` (sorted by `keyOf` ascending, unique keys): those matching `filter` after the
 * page token's key, at most `pageSizeOf(request)`, with the next page's token when more remain.
 * Tokens stay valid when items are added or removed.
 */
export function pageByKey<T>(items: readonly T[], request: PageRequest, shape: PageShape, keyOf: (item: T) => string, filter: (item: T) => boolean = () => true): Page<T> {
  const after = decodeKeyPageToken(shape, request.pageToken);
  const size = pageSizeOf(request);
  const matching: T[] = [];
  for (const item of items) {
    if (after !== undefined && !(keyOf(item) > after)) continue;
    if (!filter(item)) continue;
    matching.push(item);
    if (matching.length > size) break;
  }
  if (matching.length <= size) return { items: matching };
  const page = matching.slice(0, size);
  return { items: page, nextPageToken: encodeKeyPageToken(shape, keyOf(page[page.length - 1])) };
}
