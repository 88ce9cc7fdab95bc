/** Reading Tessera's own Prometheus metrics (`GET /metrics`) around a window: storage calls per request. */

/** Counters of one scrape: requests answered, and per storage operation its calls and seconds. */
export interface MetricsSample {
  requests: number;
  storage: Map<string, { calls: number; seconds: number }>;
}

/** Storage calls of one operation per request answered in a window, and their mean duration. */
export interface StorageCalls {
  operation: string;
  perRequest: number;
  meanMs: number;
}

/** Scrapes `base/metrics`; undefined when Tessera does not serve it. */
export async function scrapeMetrics(base: string): Promise<MetricsSample | undefined> {
  try {
    const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) return undefined;
    const sample: MetricsSample = { requests: 0, storage: new Map() };
    for (const line of (await response.text()).split("\n")) {
      const match = line.match(/^(tessera_requests_total|tessera_storage_operation_duration_seconds_(?:count|sum))\{([^}]*)\} (\S+)$/);
      if (!match) continue;
      const [, name, labels, value] = match;
      if (name === "tessera_requests_total") {
        sample.requests += Number(value);
        continue;
      }
      const operation = labels.match(/operation="([^"]*)"/)?.[1] ?? "?";
      const entry = sample.storage.get(operation) ?? { calls: 0, seconds: 0 };
      if (name.endsWith("_count")) entry.calls += Number(value);
      else entry.seconds += Number(value);
      sample.storage.set(operation, entry);
    }
    return sample;
  } catch {
    return undefined;
  }
}

/** Storage calls per request between two scrapes, most frequent first. */
export function storageCallsPerRequest(before: MetricsSample, after: MetricsSample): StorageCalls[] {
  const requests = after.requests - before.requests;
  if (requests <= 0) return [];
  return [...after.storage]
    .map(([operation, { calls, seconds }]) => {
      const earlier = before.storage.get(operation) ?? { calls: 0, seconds: 0 };
      const n = calls - earlier.calls;
      return { operation, perRequest: n / requests, meanMs: n > 0 ? ((seconds - earlier.seconds) / n) * 1000 : 0 };
    })
    .filter((c) => c.perRequest > 0)
    .sort((a, b) => b.perRequest - a.perRequest);
}
