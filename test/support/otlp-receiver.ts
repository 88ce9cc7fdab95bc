/**
 * An OTLP/HTTP trace receiver for tests, as a collector would be: `POST /v1/traces` with a JSON body
 * (the exporter's `http/json` protocol), every span kept.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** OTLP span kinds. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

/** A running receiver: its base URL (the `OTEL_EXPORTER_OTLP_ENDPOINT`), the spans and service names received. */
export interface OtlpReceiver {
  server: Server;
  url: string;
  spans: OtlpSpan[];
  services: Set<string>;
}

/** A span as OTLP/JSON carries it (ids hex). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  /** The attributes of the resource that sent it (`service.name`, `process.pid`...), added by the receiver. */
  resource?: Record<string, unknown>;
}

/** The attributes of a span as plain values. */
export function attributesOf(span: OtlpSpan): Record<string, unknown> {
  return Object.fromEntries((span.attributes ?? []).map(({ key, value }) => [key, Object.values(value)[0]]));
}

/** An OTLP/HTTP receiver: POST /v1/traces with a JSON body; keeps every span and the service names. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: OtlpSpan[] = [];
  const services = new Set<string>();
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces" || !String(req.headers["content-type"]).startsWith("application/json")) {
        res.writeHead(404).end();
        return;
      }
      type Export = { resourceSpans: { resource: { attributes: OtlpSpan["attributes"] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const resourceSpans of (JSON.parse(body) as Export).resourceSpans) {
        const service = resourceSpans.resource.attributes?.find((a) => a.key === "service.name")?.value.stringValue;
        if (typeof service === "string") services.add(service);
        const resource = attributesOf({ attributes: resourceSpans.resource.attributes } as OtlpSpan);
        for (const scope of resourceSpans.scopeSpans) spans.push(...scope.spans.map((span) => ({ ...span, resource })));
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, services };
}
