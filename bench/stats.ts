/** What one load generator reports for one measured window. */
export interface LoadResult {
  /** Successful requests in the window. */
  requests: number;
  /** Failed requests in the window (transport errors, non-2xx, gRPC errors where the generator sees them). */
  errors: number;
  /** Length of the window, seconds. */
  seconds: number;
  /** Latency percentiles of successful requests, milliseconds. */
  p50Ms: number;
  p99Ms: number;
  /** The first failure seen, warm-up included, to tell why a window failed. */
  firstError?: string;
}

/** The `q` quantile (0..1) of ascending `sorted` values, nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** The median of some numbers; NaN when empty. */
export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}
