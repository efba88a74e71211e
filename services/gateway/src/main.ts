import { GatewayConfig, loadConfigOrExit } from "@points/shared";
import { createLogger } from "@points/shared/logger";
import { startGateway } from "./gateway";

const config = loadConfigOrExit(GatewayConfig, "gateway");
const log = createLogger("gateway", config.LOG_LEVEL);
const gateway = await startGateway(config, log).catch((err) => {
  log.fatal({ err: String(err) }, "gateway failed to start");
  process.exit(1);
});

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await gateway.stop().catch((err) => log.error({ err: String(err) }, "unclean stop"));
    process.exit(0);
  });
}
