// Live workers come from the heartbeat KV bucket: a key whose TTL ran out is
// a dead worker and simply no longer listed. Each heartbeat is also kept in
// the workers table for history.
import { decodeJson, pb, tables, type Bus, type Database, type Logger } from "@uniformity/lib";

export interface Heartbeat {
  id: string;
  hostname: string;
  gpus: { index: number; name: string; memory_mib: number }[];
  slots: number;
  busy: number;
  version: string;
  started_at: string;
  last_seen: string;
}

export function heartbeatToPb(beat: Heartbeat): pb.Worker {
  return {
    id: beat.id,
    hostname: beat.hostname,
    gpus: (beat.gpus ?? []).map((g) => ({ index: g.index, name: g.name, memoryMib: g.memory_mib })),
    slots: beat.slots,
    busy: beat.busy,
    lastSeen: new Date(beat.last_seen),
    startedAt: new Date(beat.started_at),
    version: beat.version ?? "",
  };
}

export async function liveWorkers(bus: Bus, ttlMs: number, now = Date.now()): Promise<Heartbeat[]> {
  const beats: Heartbeat[] = [];
  const keys = await bus.workersKv.keys();
  for await (const key of keys) {
    const entry = await bus.workersKv.get(key);
    if (!entry || entry.operation !== "PUT" || entry.value.length === 0) continue;
    const beat = decodeJson<Heartbeat>(entry.value);
    // The bucket's TTL removes dead workers; this also hides one whose last
    // beat is older than the TTL while the server has not purged it yet.
    if (now - new Date(beat.last_seen).getTime() <= ttlMs) beats.push(beat);
  }
  return beats.sort((a, b) => a.id.localeCompare(b.id));
}

/** Mirrors heartbeats into the workers table until stopped. */
export async function mirrorWorkers(bus: Bus, database: Database, log: Logger): Promise<{ stop(): void }> {
  const watcher = await bus.workersKv.watch();
  (async () => {
    for await (const entry of watcher) {
      if (entry.operation !== "PUT" || entry.value.length === 0) continue;
      try {
        const beat = decodeJson<Heartbeat>(entry.value);
        const row = {
          id: beat.id,
          hostname: beat.hostname,
          gpus: beat.gpus,
          slots: beat.slots,
          version: beat.version ?? "",
          startedAt: new Date(beat.started_at),
          lastSeen: new Date(beat.last_seen),
        };
        await database.db.insert(tables.workers).values(row).onConflictDoUpdate({ target: tables.workers.id, set: { lastSeen: row.lastSeen, gpus: row.gpus, slots: row.slots } });
      } catch (err) {
        log.warn("could not record a heartbeat", { error: (err as Error).message });
      }
    }
  })().catch(() => undefined);
  return { stop: () => watcher.stop() };
}
