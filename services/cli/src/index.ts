// The package's surface for other workspaces (end-to-end tests, the demo):
// run a command line in-process and read its exit status.
export { COMMANDS, run, type Env, type Io, type RunOptions } from "./main";
