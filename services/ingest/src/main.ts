import { IngestConfig, loadConfigOrExit } from "@points/shared";
import { createLogger } from "@points/shared/logger";
import { startIngest } from "./ingest";

const config = loadConfigOrExit(IngestConfig, "ingest");
const log = createLogger("ingest", config.LOG_LEVEL);
const ingest = await startIngest(config, log).catch((err) => {
  log.fatal({ err: String(err) }, "ingest failed to start");
  process.exit(1);
});

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await ingest.stop().catch((err) => log.error({ err: String(err) }, "unclean stop"));
    process.exit(0);
  });
}
