// Tracing and metrics for every process: W3C trace context propagated through
// gRPC metadata and NATS headers, spans exported over OTLP when configured,
// and a Prometheus endpoint per process.
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  context,
  metrics,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";

export interface TelemetryOptions {
  serviceName: string;
  otlpEndpoint?: string | undefined;
  /** Extra exporter, e.g. an in-memory one in tests; spans reach it at once. */
  spanExporter?: SpanExporter;
  /** Prometheus port; 0 picks a free one, negative disables the endpoint. */
  metricsPort?: number;
  /** Interface the endpoint listens on (loopback unless a scraper elsewhere must reach it). */
  metricsHost?: string;
}

export interface Telemetry {
  /** Port of the Prometheus endpoint, when it is serving. */
  metricsPort: number | undefined;
  shutdown(): Promise<void>;
}

let active: { telemetry: Telemetry; provider: TracerProvider } | undefined;

export async function initTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  // Several components can share one process (tests, `make demo`): the first
  // initialisation wins and later ones reuse it.
  if (active) return active.telemetry;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  const processors: SpanProcessor[] = [];
  if (options.spanExporter) processors.push(new SimpleSpanProcessor({ exporter: options.spanExporter }));
  if (options.otlpEndpoint) {
    const endpoint = options.otlpEndpoint.replace(/\/$/, "") + "/v1/traces";
    processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint }) }));
  }
  const resource = resourceFromAttributes({ "service.name": options.serviceName });
  const provider = new TracerProvider({ resource, spanProcessors: processors });
  trace.setGlobalTracerProvider(provider);

  let server: http.Server | undefined;
  let meterProvider: MeterProvider | undefined;
  let metricsPort: number | undefined;
  if ((options.metricsPort ?? -1) >= 0) {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    meterProvider = new MeterProvider({ resource, readers: [exporter] });
    metrics.setGlobalMeterProvider(meterProvider);
    server = http.createServer((req, res) => {
      if (req.url?.startsWith("/metrics")) exporter.getMetricsRequestHandler(req, res);
      else res.writeHead(404).end("metrics are at /metrics\n");
    });
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(options.metricsPort, options.metricsHost ?? "127.0.0.1", () => resolve());
    });
    metricsPort = (server.address() as AddressInfo).port;
  }

  const telemetry: Telemetry = {
    metricsPort,
    async shutdown() {
      await provider.shutdown().catch(() => undefined);
      await meterProvider?.shutdown().catch(() => undefined);
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      active = undefined;
    },
  };
  active = { telemetry, provider };
  return telemetry;
}

export const tracer = () => trace.getTracer("uniformity");
export const meter = () => metrics.getMeter("uniformity");

/** Carrier for trace context as plain key/value pairs (NATS headers, env, JSON specs). */
export type Carrier = Record<string, string>;

const recordSetter: TextMapSetter<Carrier> = { set: (carrier, key, value) => (carrier[key] = value) };
const recordGetter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

export function injectContext(ctx: Context = context.active()): Carrier {
  const carrier: Carrier = {};
  propagation.inject(ctx, carrier, recordSetter);
  return carrier;
}

export function extractContext(carrier: Carrier, base: Context = context.active()): Context {
  return propagation.extract(base, carrier, recordGetter);
}

/** Runs fn inside a new span; the span ends when fn settles and records a thrown error. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind, SpanStatusCode, context, trace };

/** The instruments every process shares, created lazily against the global meter. */
export const instruments = (() => {
  let cache:
    | {
        rpcCount: ReturnType<ReturnType<typeof meter>["createCounter"]>;
        rpcDuration: ReturnType<ReturnType<typeof meter>["createHistogram"]>;
        jobCount: ReturnType<ReturnType<typeof meter>["createCounter"]>;
      }
    | undefined;
  return () =>
    (cache ??= {
      rpcCount: meter().createCounter("uniformity_rpc_requests", { description: "gRPC calls handled, by method and status code" }),
      rpcDuration: meter().createHistogram("uniformity_rpc_duration_seconds", { description: "gRPC call latency", unit: "s" }),
      jobCount: meter().createCounter("uniformity_jobs", { description: "Jobs handled, by kind and outcome" }),
    });
})();

/** Reports a value read on demand (queue depth, busy slots) as a gauge. */
export function observeGauge(name: string, description: string, read: () => Promise<Record<string, number>> | Record<string, number>, label = "name"): void {
  const gauge = meter().createObservableGauge(name, { description });
  gauge.addCallback(async (result) => {
    const values = await Promise.resolve(read()).catch(() => ({}) as Record<string, number>);
    for (const [key, value] of Object.entries(values)) result.observe(value, { [label]: key });
  });
}
