/**
 * Starts the test MongoDB-compatible server (FerretDB on SQLite, or `MONGODB_URI` if set), prints
 * `MONGODB_URI=...` on stdout and keeps it up until SIGTERM or SIGINT. For CI and benchmarks:
 *
 *   node --import tsx scripts/mongo-server.ts
 */
import { startMongoServer } from "../test/support/mongo-server.js";

const server = await startMongoServer();
process.stdout.write(`MONGODB_URI=${server.uri}\n`);

const keepAlive = setInterval(() => {}, 1 << 30);
let stopping = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  clearInterval(keepAlive);
  server.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`stopping the server after ${signal} failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
