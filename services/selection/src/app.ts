// SelectionService process: gRPC API plus the recorder of selection events.
import { bind, pb, startServer, type ProcessOptions } from "@uniformity/lib";
import { selectionService } from "./service";
import { startSelectionRecorder } from "./recorder";

export const app: ProcessOptions = {
  name: "selection",
  defaultMetricsPort: 9461,
  needsDatabase: true,
  async start({ config, log, database, bus }) {
    const recorder = await startSelectionRecorder(database, bus, log);
    const server = await startServer({
      address: config.selectionAddr,
      token: config.token,
      log,
      services: [bind("uniformity.v1.SelectionService", pb.SelectionServiceService, selectionService({ database, bus, log, maxImportBytes: config.maxImportBytes }))],
      maxMessageBytes: 64 * 1024 * 1024,
    });
    log.info("serving", { address: config.selectionAddr, port: server.port });
    return {
      async stop(graceMs) {
        await server.shutdown(graceMs);
        await recorder.stop();
      },
    };
  },
};
