export { startDaemon, workerIdOf, type Daemon, type DaemonDeps, type DaemonOptions } from "./daemon";
export { parseGpuList, type Gpu } from "./gpus";
export type { WorkerRecord } from "./heartbeat";
