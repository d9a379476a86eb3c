// Consumes one kind's events from EVENTS with a durable consumer and hands
// each to a handler that writes Postgres. Ack after the write; nak with a
// delay when the write fails, so nothing is lost while Postgres is away.
import type { JsMsg } from "nats";
import { context, SpanKind } from "@opentelemetry/api";
import { decodeJson, ensureRecorderConsumer, headersToCarrier, type Bus, type EventKind, type JobEvent } from "./bus";
import type { Logger } from "./log";
import { extractContext, inSpan } from "./telemetry";

export interface RecordedEvent {
  /** Job id (second-to-last subject token). */
  id: string;
  /** Event type (last subject token): status, progress, step, result, error, ... */
  type: string;
  event: JobEvent;
  /** Stream sequence, increasing in publish order. */
  seq: number;
}

export interface Recorder {
  stop(): Promise<void>;
}

export async function startRecorder(
  bus: Bus,
  kind: EventKind,
  log: Logger,
  handle: (events: RecordedEvent[]) => Promise<void>,
): Promise<Recorder> {
  const durable = await ensureRecorderConsumer(bus, kind);
  const consumer = await bus.js.consumers.get(bus.names.eventsStream, durable);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      let batch: JsMsg[] = [];
      try {
        const messages = await consumer.fetch({ max_messages: 500, expires: 1000 });
        for await (const m of messages) batch.push(m);
      } catch (err) {
        if (stopped) break;
        log.warn("recorder fetch failed", { kind, error: (err as Error).message });
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (batch.length === 0) continue;
      const events: RecordedEvent[] = [];
      for (const m of batch) {
        const tokens = m.subject.split(".");
        try {
          events.push({ id: tokens[tokens.length - 2]!, type: tokens[tokens.length - 1]!, event: decodeJson<JobEvent>(m.data), seq: m.seq });
        } catch {
          log.warn("recorder dropped an undecodable event", { subject: m.subject });
        }
      }
      try {
        const parent = extractContext(headersToCarrier(batch[batch.length - 1]!.headers), context.active());
        await inSpan(`record ${kind} events`, { kind: SpanKind.CONSUMER, parent, attributes: { "messaging.batch.message_count": events.length } }, () =>
          handle(events),
        );
        for (const m of batch) m.ack();
      } catch (err) {
        log.error("recorder write failed; events will be redelivered", { kind, error: (err as Error).message });
        for (const m of batch) m.nak(2000);
      }
      batch = [];
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
