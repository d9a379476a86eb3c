// TrainingService process.
import { bind, createClient, pb, startServer, type ProcessOptions } from "@uniformity/lib";
import { evaluateFinishedRun } from "./evals";
import { trainingService } from "./service";
import { mirrorWorkers } from "./workers";
import { startRunRecorder } from "./recorder";

export const app: ProcessOptions = {
  name: "training",
  defaultMetricsPort: 9462,
  needsDatabase: true,
  async start({ config, log, database, bus }) {
    const mirror = await mirrorWorkers(bus, database, log);
    const evaluation = createClient(pb.EvaluationServiceService, config.evaluationAddr, config.token);
    const recorder = await startRunRecorder(database, bus, log, (runId, status) => evaluateFinishedRun(database, evaluation, log, runId, status));
    const server = await startServer({
      address: config.trainingAddr,
      token: config.token,
      log,
      services: [bind("uniformity.v1.TrainingService", pb.TrainingServiceService, trainingService({ database, bus, heartbeatTtlMs: config.heartbeatTtlMs }))],
    });
    log.info("serving", { address: config.trainingAddr, port: server.port });
    return {
      async stop(graceMs) {
        await server.shutdown(graceMs);
        mirror.stop();
        await recorder.stop();
        evaluation.close();
      },
    };
  },
};
