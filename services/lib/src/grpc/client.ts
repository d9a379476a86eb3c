// Promise and async-iterable clients over grpc-js, with the bearer token and
// the trace context added to every call by interceptors.
import * as grpc from "@grpc/grpc-js";
import { context, propagation, trace, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { tracer } from "../telemetry";
import type { CallOptions, Client, MethodDefinition, ServiceDefinition } from "./types";

function tracingInterceptor(): grpc.Interceptor {
  return (options, nextCall) => {
    const path = options.method_definition.path;
    const span = tracer().startSpan(path.slice(1), { kind: SpanKind.CLIENT, attributes: { "rpc.system": "grpc" } });
    const ctx = trace.setSpan(context.active(), span);
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        propagation.inject(ctx, metadata, { set: (carrier, key, value) => carrier.set(key, value) });
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            span.setAttribute("rpc.grpc.status_code", status.code);
            if (status.code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
            span.end();
            nextStatus(status);
          },
        });
      },
    });
  };
}

function tokenInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

function callOptions(options: CallOptions | undefined): grpc.CallOptions {
  return options?.timeoutMs ? { deadline: Date.now() + options.timeoutMs } : {};
}

function linkSignal(call: grpc.Call, signal: AbortSignal | undefined): void {
  if (!signal) return;
  if (signal.aborted) call.cancel();
  else signal.addEventListener("abort", () => call.cancel(), { once: true });
}

export function createClient<S extends ServiceDefinition>(
  definition: S,
  address: string,
  token: string | undefined,
  maxMessageBytes = 64 * 1024 * 1024,
): Client<S> {
  const Ctor = grpc.makeGenericClientConstructor(definition as unknown as grpc.ServiceDefinition, "client");
  const interceptors = [tracingInterceptor(), ...(token ? [tokenInterceptor(token)] : [])];
  const raw = new Ctor(address, grpc.credentials.createInsecure(), {
    interceptors,
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": maxMessageBytes,
  }) as unknown as Record<string, (...args: unknown[]) => any> & grpc.Client;
  const client: Record<string, unknown> = { close: () => raw.close() };
  for (const [key, def] of Object.entries(definition as ServiceDefinition) as [string, MethodDefinition][]) {
    const method = raw[key]!.bind(raw);
    if (def.requestStream && !def.responseStream) {
      client[key] = (requests: AsyncIterable<unknown> | Iterable<unknown>, options?: CallOptions) =>
        new Promise((resolve, reject) => {
          // The server may answer (usually with an error) before the upload
          // ends: stop writing then, or the loop would wait for a drain that
          // never comes.
          let settle: () => void = () => undefined;
          const settled = new Promise<void>((r) => (settle = r));
          let done = false;
          const call = method(new grpc.Metadata(), callOptions(options), (err: grpc.ServiceError | null, res: unknown) => {
            done = true;
            settle();
            if (err) reject(err);
            else resolve(res);
          }) as grpc.ClientWritableStream<unknown>;
          linkSignal(call, options?.signal);
          (async () => {
            for await (const request of requests) {
              if (done) break;
              if (!call.write(request)) await Promise.race([new Promise((r) => call.once("drain", r)), settled]);
            }
            if (!done) call.end();
          })().catch((err) => {
            call.cancel();
            reject(err);
          });
        });
    } else if (def.responseStream) {
      client[key] = (request: unknown, options?: CallOptions) => {
        const call = method(request, new grpc.Metadata(), callOptions(options)) as grpc.ClientReadableStream<unknown>;
        linkSignal(call, options?.signal);
        return call as AsyncIterable<unknown>;
      };
    } else {
      client[key] = (request: unknown, options?: CallOptions) =>
        new Promise((resolve, reject) => {
          const call = method(request, new grpc.Metadata(), callOptions(options), (err: grpc.ServiceError | null, res: unknown) =>
            err ? reject(err) : resolve(res),
          );
          linkSignal(call, options?.signal);
        });
    }
  }
  return client as Client<S>;
}

// grpc.health.v1 has two one-field messages; encoding them by hand avoids
// loading a second copy of the health proto into every client.
function encodeHealthRequest(service: string): Buffer {
  const name = Buffer.from(service, "utf8");
  return name.length ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
}

function decodeHealthResponse(buffer: Buffer): { status: number } {
  return { status: buffer.length >= 2 && buffer[0] === 0x08 ? buffer[1]! : 0 };
}

/** Asks a server's grpc.health.v1 service whether it serves (status SERVING = 1). */
export async function checkHealth(address: string, timeoutMs = 2000, service = ""): Promise<boolean> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    return await new Promise<boolean>((resolve) => {
      client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        () => encodeHealthRequest(service),
        decodeHealthResponse,
        {},
        { deadline: Date.now() + timeoutMs },
        (err, res?: { status: number }) => resolve(!err && res?.status === 1),
      );
    });
  } finally {
    client.close();
  }
}
