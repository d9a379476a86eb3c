// `make migrate`: creates the database when missing and applies every
// pending migration. One line and exit 1 on failure.
import { loadConfig } from "../config";
import { ensureDatabase, migrateDatabase, openDatabase } from "../db/client";

(async () => {
  const config = loadConfig();
  await ensureDatabase(config.databaseUrl);
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateDatabase(database);
  } finally {
    await database.close();
  }
  const where = new URL(config.databaseUrl);
  process.stdout.write(`migrated ${where.host}${where.pathname}\n`);
})().catch((err) => {
  process.stderr.write(`migrate: ${(err as Error).message}\n`);
  process.exit(1);
});
