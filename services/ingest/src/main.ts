import { IngestConfig, loadConfigOrExit } from "@points/shared";
import { createLogger } from "@points/shared/logger";
import { runService } from "@points/shared/service";
import { startIngest } from "./ingest";

const config = loadConfigOrExit(IngestConfig, "ingest");
const log = createLogger("ingest", config.LOG_LEVEL);
await runService("ingest", log, () => startIngest(config, log));
