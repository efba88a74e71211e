import { type DestinationStream, pino } from "pino";

/**
 * JSON logs (pino). Credentials are redacted by path so a token or signing secret never reaches
 * a log line even when a whole request or partner row is logged. `destination` defaults to
 * stdout; tests pass a stream to read what a service logged.
 */
export function createLogger(service: string, level = "info", destination?: DestinationStream) {
  const options = {
    name: service,
    level,
    redact: {
      paths: [
        "req.headers.authorization",
        "headers.authorization",
        "*.token",
        "token",
        "*.signing_secret",
        "signing_secret",
        "*.ADMIN_TOKEN",
        "ADMIN_TOKEN",
      ],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
export type Logger = ReturnType<typeof createLogger>;
