import { containKafkaRejections } from "./kafka";
import type { Logger } from "./logger";

/**
 * The life of a service process: start it (exit 1 with a log line if that fails), then on the
 * first SIGTERM or SIGINT stop it gracefully and exit 0. Later signals are ignored, so a second
 * Ctrl-C cannot cut a graceful stop short. A retriable Kafka error left unhandled inside the
 * client is contained (logged, counted); any other unhandled rejection still ends the process.
 */
export async function runService(
  name: string,
  log: Logger,
  start: () => Promise<{ stop: () => Promise<void> }>,
): Promise<void> {
  containKafkaRejections(log);
  const service = await start().catch((err) => {
    log.fatal({ err: String(err) }, `${name} failed to start`);
    process.exit(1);
  });
  onStopSignal(log, async () => {
    await service.stop().catch((err) => log.error({ err: String(err) }, "unclean stop"));
    process.exit(0);
  });
}

export function onStopSignal(log: Logger, stop: () => Promise<void>): void {
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
