// Types that turn a ts-proto grpc-js service definition into the shape of
// our handlers (plain async functions and async iterables) and clients.
import type { Metadata } from "@grpc/grpc-js";
import type { Logger } from "../log";

export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: any) => Buffer;
  requestDeserialize: (value: Buffer) => any;
  responseSerialize: (value: any) => Buffer;
  responseDeserialize: (value: Buffer) => any;
}

export type ServiceDefinition = Record<string, MethodDefinition>;

export type RequestOf<M> = M extends { requestDeserialize: (value: Buffer) => infer R } ? R : never;
export type ResponseOf<M> = M extends { responseDeserialize: (value: Buffer) => infer R } ? R : never;

export interface CallContext {
  metadata: Metadata;
  /** Aborted when the client cancels, the deadline passes or the server shuts down. */
  signal: AbortSignal;
  log: Logger;
  method: string;
}

export type Handler<M> = M extends { requestStream: true }
  ? (requests: AsyncIterable<RequestOf<M>>, ctx: CallContext) => Promise<ResponseOf<M>>
  : M extends { responseStream: true }
    ? (request: RequestOf<M>, ctx: CallContext) => AsyncIterable<ResponseOf<M>>
    : (request: RequestOf<M>, ctx: CallContext) => Promise<ResponseOf<M>>;

export type Implementation<S extends ServiceDefinition> = { [K in keyof S]: Handler<S[K]> };

export interface CallOptions {
  signal?: AbortSignal;
  /** Milliseconds from now. */
  timeoutMs?: number;
}

export type ClientMethod<M> = M extends { requestStream: true }
  ? (requests: AsyncIterable<RequestOf<M>> | Iterable<RequestOf<M>>, options?: CallOptions) => Promise<ResponseOf<M>>
  : M extends { responseStream: true }
    ? (request: RequestOf<M>, options?: CallOptions) => AsyncIterable<ResponseOf<M>>
    : (request: RequestOf<M>, options?: CallOptions) => Promise<ResponseOf<M>>;

export type Client<S extends ServiceDefinition> = { [K in keyof S]: ClientMethod<S[K]> } & { close(): void };
