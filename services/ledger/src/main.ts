import { LedgerConfig, loadConfigOrExit } from "@points/shared";
import { createLogger } from "@points/shared/logger";
import { startLedger } from "./ledger";

const config = loadConfigOrExit(LedgerConfig, "ledger");
const log = createLogger("ledger", config.LOG_LEVEL);
const ledger = await startLedger(config, log).catch((err) => {
  log.fatal({ err: String(err) }, "ledger failed to start");
  process.exit(1);
});

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await ledger.stop().catch((err) => log.error({ err: String(err) }, "unclean stop"));
    process.exit(0);
  });
}
