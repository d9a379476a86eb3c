// One gRPC server builder for every service: health, reflection, the bearer
// token interceptor, and a middleware chain (tracing, metrics, logging,
// error mapping) wrapped around plain async handlers.
import crypto from "node:crypto";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { context, propagation, trace, SpanKind, SpanStatusCode, type TextMapGetter } from "@opentelemetry/api";
import type { Logger } from "../log";
import { instruments, tracer } from "../telemetry";
import { toServiceError } from "./errors";
import type { CallContext, Implementation, MethodDefinition, ServiceDefinition } from "./types";

const HEALTH_PREFIX = "/grpc.health.v1.Health/";
export const PROTO_DIR = path.resolve(__dirname, "../../../../../proto");

const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key);
    return values.length ? String(values[0]) : undefined;
  },
};

function tokensEqual(given: string, expected: string): boolean {
  // Hash both sides so the comparison takes the same time whatever the lengths.
  const a = crypto.createHash("sha256").update(given).digest();
  const b = crypto.createHash("sha256").update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/** Requires `authorization: Bearer <token>` on every call except health checks. */
export function bearerTokenInterceptor(token: string): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, forward) => {
            if (method.path.startsWith(HEALTH_PREFIX)) return forward(metadata);
            const header = String(metadata.get("authorization")[0] ?? "");
            const given = header.startsWith("Bearer ") ? header.slice(7) : "";
            if (given && tokensEqual(given, token)) return forward(metadata);
            call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: "missing or wrong bearer token (set UNIFORMITY_TOKEN)" });
          },
        }),
    });
}

interface Hooks {
  log: Logger;
  serviceName: string;
  inflight: Set<AbortController>;
}

async function runCall<T>(
  def: MethodDefinition,
  metadata: grpc.Metadata,
  hooks: Hooks,
  controller: AbortController,
  body: (ctx: CallContext) => Promise<T>,
): Promise<T> {
  const method = def.path.split("/").pop() ?? def.path;
  const parent = propagation.extract(context.active(), metadata, metadataGetter);
  const span = tracer().startSpan(
    def.path.slice(1),
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.service": hooks.serviceName, "rpc.method": method } },
    parent,
  );
  const started = performance.now();
  hooks.inflight.add(controller);
  let code = grpc.status.OK;
  try {
    return await context.with(trace.setSpan(parent, span), () =>
      body({ metadata, signal: controller.signal, log: hooks.log.child({ method }), method }),
    );
  } catch (err) {
    const mapped = toServiceError(err);
    code = mapped.code;
    if (code === grpc.status.INTERNAL || code === grpc.status.UNAVAILABLE) {
      hooks.log.error("call failed", { method, error: (err as Error).stack ?? String(err) });
    }
    span.setStatus({ code: SpanStatusCode.ERROR, message: mapped.details });
    throw err;
  } finally {
    hooks.inflight.delete(controller);
    span.setAttribute("rpc.grpc.status_code", code);
    span.end();
    const labels = { service: hooks.serviceName, method, code: grpc.status[code] ?? String(code) };
    instruments().rpcCount.add(1, labels);
    instruments().rpcDuration.record((performance.now() - started) / 1000, labels);
    hooks.log.debug("call", { method, code: labels.code, ms: Math.round(performance.now() - started) });
  }
}

function bindMethod(def: MethodDefinition, handler: any, hooks: Hooks): grpc.UntypedHandleCall {
  if (def.requestStream && !def.responseStream) {
    return (call: grpc.ServerReadableStream<any, any>, callback: grpc.sendUnaryData<any>) => {
      const controller = new AbortController();
      call.on("cancelled", () => controller.abort(new Error("cancelled by client")));
      runCall(def, call.metadata, hooks, controller, (ctx) => handler(call, ctx)).then(
        (res) => callback(null, res),
        (err) => {
          call.destroy();
          callback(toServiceError(err) as grpc.ServiceError);
        },
      );
    };
  }
  if (def.responseStream) {
    return (call: grpc.ServerWritableStream<any, any>) => {
      const controller = new AbortController();
      call.on("cancelled", () => controller.abort(new Error("cancelled by client")));
      runCall(def, call.metadata, hooks, controller, async (ctx) => {
        for await (const message of handler(call.request, ctx) as AsyncIterable<unknown>) {
          if (controller.signal.aborted) break;
          if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
        }
      }).then(
        () => call.end(),
        (err) => call.emit("error", toServiceError(err)),
      );
    };
  }
  return (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
    const controller = new AbortController();
    call.on("cancelled", () => controller.abort(new Error("cancelled by client")));
    runCall(def, call.metadata, hooks, controller, (ctx) => handler(call.request, ctx)).then(
      (res) => callback(null, res),
      (err) => callback(toServiceError(err) as grpc.ServiceError),
    );
  };
}

export interface ServiceBinding<S extends ServiceDefinition = ServiceDefinition> {
  /** Fully qualified name, e.g. uniformity.v1.SelectionService. */
  name: string;
  definition: S;
  implementation: Implementation<S>;
}

export function bind<S extends ServiceDefinition>(name: string, definition: S, implementation: Implementation<S>): ServiceBinding<S> {
  return { name, definition, implementation };
}

export interface RunningServer {
  port: number;
  health: HealthImplementation;
  /** Stops taking calls, lets in-flight ones finish for graceMs, then aborts the rest. */
  shutdown(graceMs: number): Promise<void>;
}

export interface ServerOptions {
  address: string;
  services: ServiceBinding<any>[];
  token: string | undefined;
  log: Logger;
  maxMessageBytes?: number;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const interceptors = options.token ? [bearerTokenInterceptor(options.token)] : [];
  const maxBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  const server = new grpc.Server({
    interceptors,
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": maxBytes,
  });
  const inflight = new Set<AbortController>();
  const healthStatus: Record<string, "SERVING"> = { "": "SERVING" };
  for (const binding of options.services) {
    const hooks: Hooks = { log: options.log, serviceName: binding.name, inflight };
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [key, def] of Object.entries(binding.definition as ServiceDefinition)) {
      handlers[key] = bindMethod(def, (binding.implementation as Record<string, unknown>)[key], hooks);
    }
    server.addService(binding.definition as unknown as grpc.ServiceDefinition, handlers);
    healthStatus[binding.name] = "SERVING";
  }
  const health = new HealthImplementation(healthStatus);
  health.addToServer(server);
  const packageDefinition = protoLoader.loadSync(
    ["uniformity/v1/selection.proto", "uniformity/v1/training.proto", "uniformity/v1/evaluation.proto"],
    { includeDirs: [PROTO_DIR] },
  );
  new ReflectionService(packageDefinition).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    port,
    health,
    async shutdown(graceMs: number) {
      for (const name of Object.keys(healthStatus)) health.setStatus(name, "NOT_SERVING");
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      // Long streams (watch, follow) never end by themselves: end them after
      // the grace period so the server can close.
      const timer = setTimeout(() => {
        for (const controller of inflight) controller.abort(new Error("server shutting down"));
        setTimeout(() => server.forceShutdown(), 1000).unref();
      }, graceMs);
      await drained;
      clearTimeout(timer);
    },
  };
}
