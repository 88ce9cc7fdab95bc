import { StorageConflictError, StorageNotFoundError } from "../realm-repository.js";

/*
 * Helpers of the memory adapter's stores: every value goes in and out as a copy, so that nothing a
 * caller holds changes what is stored.
 */

/**
 * A deep copy without `undefined`-valued properties at any depth: optional fields are absent, as the
 * Mongo adapter (`ignoreUndefined`) returns them. Dates stay Dates.
 */
export function copy<T extends object>(value: T): T {
  const cloned = structuredClone(value);
  dropUndefined(cloned);
  return cloned;
}

function dropUndefined(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) dropUndefined(item);
  } else if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (record[key] === undefined) delete record[key];
      else dropUndefined(record[key]);
    }
  }
}

/** A comparator of items by a string key, ascending. */
export const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T): number =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/** Stores a copy of `value` under `key`; throws {@link StorageConflictError} if the key is taken. */
export function putUnique<T extends object>(map: Map<string, T>, key: string, value: T, what: string): void {
  if (map.has(key)) throw new StorageConflictError(`${what} ${key} already exists`);
  map.set(key, copy(value));
}

/** Replaces the value under `key` with a copy of `value`; throws {@link StorageNotFoundError} if there is none. */
export function replaceExisting<T extends object>(map: Map<string, T>, key: string, value: T, what: string): void {
  if (!map.has(key)) throw new StorageNotFoundError(`${what} ${key} not found`);
  map.set(key, copy(value));
}

/** Copies of a map's values sorted by `key` ascending (none for no map). */
export function listOf<T extends object>(map: Map<string, T> | undefined, key: (t: T) => string): T[] {
  return [...(map?.values() ?? [])].map(copy).sort(byKey(key));
}

/** Deletes the entries whose value has `expired`, calling `onDrop` with each; returns how many went. */
export function dropExpired<K, V>(map: Map<K, V>, expired: (value: V) => boolean, onDrop?: (value: V) => void): number {
  let dropped = 0;
  for (const [key, value] of map) {
    if (!expired(value)) continue;
    map.delete(key);
    onDrop?.(value);
    dropped++;
  }
  return dropped;
}
