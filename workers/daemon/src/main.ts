// `node workers/daemon/dist/src/main.js`: one worker daemon per machine.
import { main } from "@uniformity/lib";
import { startDaemon } from "./daemon";

main({ name: "worker", defaultMetricsPort: 9464, needsDatabase: false, start: (deps) => startDaemon(deps) });
