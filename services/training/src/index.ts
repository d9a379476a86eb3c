export { app } from "./app";
