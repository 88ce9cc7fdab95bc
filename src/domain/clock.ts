/** The source of "now" for every rule that involves time; tests inject a fixed one. */
export interface Clock {
  now(): Date;
}

/** The real clock. */
export const systemClock: Clock = { now: () => new Date() };

/** Seconds since the epoch, as JWT `iat`/`exp` count. */
export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
