// EvaluationService process.
import { bind, pb, startServer, type ProcessOptions } from "@uniformity/lib";
import { evaluationService } from "./service";

export const app: ProcessOptions = {
  name: "evaluation",
  defaultMetricsPort: 9463,
  needsDatabase: true,
  async start({ config, log, database }) {
    const server = await startServer({
      address: config.evaluationAddr,
      token: config.token,
      log,
      services: [bind("uniformity.v1.EvaluationService", pb.EvaluationServiceService, evaluationService(database))],
    });
    log.info("serving", { address: config.evaluationAddr, port: server.port });
    return { stop: (graceMs) => server.shutdown(graceMs) };
  },
};
