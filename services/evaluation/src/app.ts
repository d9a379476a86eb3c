// EvaluationService process: gRPC API plus the recorder of evaluation events.
import { bind, pb, startServer, type ProcessOptions } from "@uniformity/lib";
import { evaluationService } from "./service";
import { startEvaluationRecorder } from "./recorder";

export const app: ProcessOptions = {
  name: "evaluation",
  defaultMetricsPort: 9463,
  needsDatabase: true,
  async start({ config, log, database, bus }) {
    const recorder = await startEvaluationRecorder(database, bus, log);
    const server = await startServer({
      address: config.evaluationAddr,
      token: config.token,
      log,
      services: [bind("uniformity.v1.EvaluationService", pb.EvaluationServiceService, evaluationService({ database, bus }))],
    });
    log.info("serving", { address: config.evaluationAddr, port: server.port });
    return {
      async stop(graceMs) {
        await server.shutdown(graceMs);
        await recorder.stop();
      },
    };
  },
};
