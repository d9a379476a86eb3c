import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/lib/src/db/schema.ts",
  out: "./services/lib/drizzle",
});
