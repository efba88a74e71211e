/**
 * The gateway process. With GATEWAY_WORKERS > 1 the primary forks that many workers sharing the
 * port (node:cluster), restarts one that dies, and stops them all on SIGTERM/SIGINT. Each worker
 * is a full gateway instance with its own reply channel.
 */

import cluster from "node:cluster";
import { GatewayConfig, loadConfigOrExit } from "@points/shared";
import { createLogger, type Logger } from "@points/shared/logger";
import { onStopSignal, runService } from "@points/shared/service";
import { startGateway } from "./gateway";

const WORKER_STOP_GRACE_MS = 15_000;
const config = loadConfigOrExit(GatewayConfig, "gateway");
const log = createLogger("gateway", config.LOG_LEVEL);

if (config.GATEWAY_WORKERS > 1 && cluster.isPrimary) runPrimary(config.GATEWAY_WORKERS, log);
else await runGateway();

function runGateway(): Promise<void> {
  return runService("gateway", log, () => startGateway(config, log));
}

function runPrimary(workers: number, log: Logger): void {
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, "gateway worker exited; starting another");
    cluster.fork();
  });
  onStopSignal(log, async () => {
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => w.kill("SIGKILL"), WORKER_STOP_GRACE_MS);
            w.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            w.kill("SIGTERM");
          }),
      ),
    );
    process.exit(0);
  });
}
