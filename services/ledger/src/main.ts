import { LedgerConfig, loadConfigOrExit } from "@points/shared";
import { createLogger } from "@points/shared/logger";
import { runService } from "@points/shared/service";
import { startLedger } from "./ledger";

const config = loadConfigOrExit(LedgerConfig, "ledger");
const log = createLogger("ledger", config.LOG_LEVEL);
await runService("ledger", log, () => startLedger(config, log));
