// Where the demo finds the repository from its compiled file (services/cli/dist/src/demo).
import path from "node:path";

export const ROOT = path.resolve(__dirname, "../../../../..");
