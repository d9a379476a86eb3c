// The worker's presence in the `workers` KV bucket: a record refreshed well
// within the bucket's TTL, so a dead worker disappears without anyone noticing it died.
import { encodeJson, type Logger } from "@uniformity/lib";
import type { KV } from "nats";
import type { Gpu } from "./gpus";

export interface WorkerRecord {
  id: string;
  hostname: string;
  gpus: Gpu[];
  slots: number;
  busy: number;
  version: string;
  started_at: string;
  last_seen: string;
}

export interface Heartbeat {
  /** Refresh now (busy changed) instead of waiting for the next tick. */
  beat(): void;
  /** Stops refreshing and deletes the key: a clean stop should not wait out the TTL. */
  stop(): Promise<void>;
}

export async function startHeartbeat(
  kv: KV,
  record: () => Omit<WorkerRecord, "last_seen">,
  intervalMs: number,
  log: Logger,
): Promise<Heartbeat> {
  let stopped = false;
  // Puts are chained so a late put can never land after the delete and resurrect the key.
  let chain: Promise<void> = Promise.resolve();
  const beat = (): Promise<void> => {
    if (stopped) return chain;
    chain = chain
      .then(async () => {
        const value = { ...record(), last_seen: new Date().toISOString() };
        await kv.put(value.id, encodeJson(value));
      })
      .catch((err: Error) => log.warn("heartbeat failed", { error: err.message }));
    return chain;
  };
  await beat();
  const timer = setInterval(() => void beat(), intervalMs);
  timer.unref();
  return {
    beat: () => void beat(),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await chain;
      await kv.delete(record().id).catch((err: Error) => log.warn("heartbeat delete failed", { error: err.message }));
    },
  };
}
