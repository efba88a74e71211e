import cluster from "node:cluster";
import { GatewayConfig, loadConfigOrExit } from "@points/shared";
import { createLogger, type Logger } from "@points/shared/logger";
import { startGateway } from "./gateway";

/**
 * The gateway process. With GATEWAY_WORKERS > 1 the primary forks that many workers sharing the
 * port (node:cluster), restarts one that dies, and stops them all on SIGTERM/SIGINT. Each worker
 * is a full gateway instance with its own reply channel.
 */
const WORKER_STOP_GRACE_MS = 15_000;
const config = loadConfigOrExit(GatewayConfig, "gateway");
const log = createLogger("gateway", config.LOG_LEVEL);

if (config.GATEWAY_WORKERS > 1 && cluster.isPrimary) runPrimary(config.GATEWAY_WORKERS, log);
else await runGateway();

async function runGateway(): Promise<void> {
  const gateway = await startGateway(config, log).catch((err) => {
    log.fatal({ err: String(err) }, "gateway failed to start");
    process.exit(1);
  });
  onStopSignal(async () => {
    await gateway.stop().catch((err) => log.error({ err: String(err) }, "unclean stop"));
    process.exit(0);
  });
}

function runPrimary(workers: number, log: Logger): void {
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, "gateway worker exited; starting another");
    cluster.fork();
  });
  onStopSignal(async () => {
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

function onStopSignal(stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "stopping");
      void stop();
    });
  }
}
