import { pino } from "pino";

/**
 * JSON logs (pino). Credentials are redacted by path so a token or signing secret never reaches
 * a log line even when a whole request or partner row is logged.
 */
export function createLogger(service: string, level = "info") {
  return pino({
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
  });
}
export type Logger = ReturnType<typeof createLogger>;
