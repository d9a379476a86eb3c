// Writes selection job events into Postgres: status changes, progress, and
// on `result` the member indices, metrics, picture and subset file, all in
// one transaction so a selection is either wholly done or not at all.
import { createHash } from "node:crypto";
import { and, eq, notInArray } from "drizzle-orm";
import { decodeJson, getObject, putObject, startRecorder, tables, type Bus, type Database, type Logger, type RecordedEvent } from "@uniformity/lib";
import { buildSubset } from "./subset";

const { datasets, selections, selectionMembers } = tables;
const FINAL = ["done", "failed", "cancelled"] as ("done" | "failed" | "cancelled")[];

interface StoredFile {
  sha256: string;
  bytes: number;
}

export async function startSelectionRecorder(database: Database, bus: Bus, log: Logger) {
  const { db } = database;
  const store = bus.datasetsStore;

  async function recordResult(id: string, event: RecordedEvent["event"]): Promise<void> {
    const files = (event.files ?? {}) as Record<string, StoredFile>;
    const [row] = await db.select().from(selections).where(eq(selections.id, id));
    if (!row || row.status === "done") return;
    const fetchJson = async <T>(file: StoredFile | undefined, what: string): Promise<T> => {
      if (!file) throw new Error(`result of ${id} names no ${what} file`);
      const bytes = await getObject(store, file.sha256);
      if (!bytes) throw new Error(`${what} file ${file.sha256} of ${id} is missing from the object store`);
      return decodeJson<T>(bytes);
    };
    const picks = await fetchJson<number[]>(files.members, "members");
    const distances = files.pick_distances ? await fetchJson<(number | null)[]>(files.pick_distances, "pick_distances") : [];
    const [dataset] = await db.select().from(datasets).where(eq(datasets.id, row.datasetId));
    const source = await getObject(store, dataset!.sha256);
    if (!source) throw new Error(`dataset file ${dataset!.sha256} is missing from the object store`);
    const subset = buildSubset(source, [...picks].sort((a, b) => a - b));
    const subsetSha = createHash("sha256").update(subset).digest("hex");
    await putObject(store, subsetSha, subset);

    await db.transaction(async (tx) => {
      await tx.delete(selectionMembers).where(eq(selectionMembers.selectionId, id));
      const rows = picks.map((recordIndex, position) => ({ selectionId: id, position, recordIndex, pickDistance: finiteOrNull(distances[position]) }));
      for (let i = 0; i < rows.length; i += 5000) await tx.insert(selectionMembers).values(rows.slice(i, i + 5000));
      await tx
        .update(selections)
        .set({
          status: "done",
          error: null,
          metrics: {
            ...(event.metrics as object),
            empty_records: ((event.empty_records as { count?: number } | undefined)?.count ?? 0),
          },
          plotSha256: files.pca?.sha256 ?? null,
          subsetSha256: subsetSha,
          size: picks.length,
          worker: event.worker,
          progress: null,
          finishedAt: new Date(),
        })
        .where(eq(selections.id, id));
    });
  }

  async function handle(events: RecordedEvent[]): Promise<void> {
    for (const { id, type, event } of events) {
      const open = and(eq(selections.id, id), notInArray(selections.status, FINAL));
      if (type === "progress") {
        await db.update(selections).set({ progress: { phase: event.phase, done: event.done, total: event.total } }).where(open);
      } else if (type === "result") {
        await recordResult(id, event);
      } else if (type === "status") {
        if (event.status === "running") {
          await db.update(selections).set({ status: "running", worker: event.worker, startedAt: new Date() }).where(open);
        } else if (event.status === "queued") {
          await db.update(selections).set({ status: "queued", error: event.error ?? null }).where(open);
        } else if (event.status === "failed" || event.status === "cancelled") {
          await db.update(selections).set({ status: event.status, error: event.error ?? null, finishedAt: new Date() }).where(open);
        }
      }
    }
  }

  return startRecorder(bus, "select", log, handle);
}

function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
