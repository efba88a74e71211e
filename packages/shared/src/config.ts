import { z } from "zod";
import { CommandSigningKeys } from "./command-auth";

/**
 * Every service parses its environment once, at start-up, with these schemas. A bad variable
 * stops the process with a message naming it; the defaults work on a developer machine.
 */
const postgresUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), "must be a postgres:// or postgresql:// URL");
const redisUrl = z
  .string()
  .url()
  .refine((v) => /^rediss?:\/\//.test(v), "must be a redis:// or rediss:// URL");
const brokerList = z
  .string()
  .min(1)
  .transform((v) => v.split(",").map((b) => b.trim()))
  .refine(
    (list) => list.every((b) => /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(b)),
    "must be host:port[,host:port...]",
  );
const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();
/** Names may prefix topics, groups and Redis keys so test files and helpers never share them. */
const prefix = z
  .string()
  .regex(/^[A-Za-z0-9._:-]*$/, "only letters, digits, '.', '_', ':' and '-'")
  .default("");

/** How long ledger.commands and partner.transactions keep messages (the broker's default, 168 h). */
export const KAFKA_TOPIC_RETENTION_DAYS = 7;
/**
 * The longest a gateway keeps sending an undecided command again (its outbox): a resend can then
 * sit in the topic for the topic's retention, so command records must outlive both.
 */
export const COMMAND_RESEND_WINDOW_DAYS = 1;

export const CommonConfig = z.object({
  DATABASE_URL: postgresUrl.default("postgres://postgres@127.0.0.1:5432/points"),
  REDIS_URL: redisUrl.default("redis://127.0.0.1:6379"),
  KAFKA_BROKERS: brokerList.default(["127.0.0.1:9092"]),
  KAFKA_TOPIC_PREFIX: prefix,
  /** This service's own Kafka principal (contract 3): the broker refuses anonymous clients. */
  KAFKA_SASL_USERNAME: z.string().min(1).max(200).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).max(1_000).optional(),
  KAFKA_SASL_MECHANISM: z.enum(["scram-sha-512", "scram-sha-256", "plain"]).default("scram-sha-512"),
  REDIS_KEY_PREFIX: prefix,
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type CommonConfig = z.infer<typeof CommonConfig>;

/** Keys for the x-command-auth header on ledger.commands: id:secret[,id:secret...]; the first signs. */
const signingKeys = CommandSigningKeys;

export const GatewayConfig = CommonConfig.extend({
  PORT: port.default(8080),
  COMMAND_SIGNING_KEYS: signingKeys,
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters (npm start generates one)"),
  /** How long a synchronous request waits for the ledger before answering 202. */
  SYNC_WAIT_MS: positiveInt.max(60_000).default(5_000),
  /** Per-token rate limit for partner and member tokens; the admin token is not limited. */
  RATE_LIMIT_PER_SECOND: positiveInt.default(1_000),
  RATE_LIMIT_BURST: positiveInt.default(2_000),
  /**
   * Per client address: lookups of tokens not in the gateway's cache (each one a Postgres query).
   * A partner backend presenting many member tokens needs one lookup per token per 30 s.
   */
  AUTH_LOOKUPS_PER_SECOND: positiveInt.default(1_000),
  AUTH_LOOKUPS_BURST: positiveInt.default(2_000),
  /**
   * Balances each gateway process keeps in memory, invalidated by Redis (client-side caching);
   * 0 turns the memory copy off and every fast read asks Redis.
   */
  BALANCE_NEAR_CACHE_ENTRIES: z.coerce.number().int().min(0).max(10_000_000).default(50_000),
  /**
   * The outbox (README, "Nothing lost"): a command answered 202 and still undecided this long
   * after is sent again (then after twice as long, up to COMMAND_RESEND_BACKOFF_MAX_MS).
   */
  COMMAND_RESEND_AFTER_MS: positiveInt.min(1_000).max(3_600_000).default(30_000),
  COMMAND_RESEND_BACKOFF_MAX_MS: positiveInt.min(1_000).max(3_600_000).default(600_000),
  /** How often each gateway looks for undecided commands to send again. */
  COMMAND_RESEND_INTERVAL_MS: positiveInt.min(100).max(600_000).default(5_000),
  /**
   * Resending stops this long after the 202 (the row stays "pending", counted and logged). It must
   * end before the ledger prunes command records (retention, longer than the topic's 7 days), or
   * a late resend could be applied a second time.
   */
  COMMAND_RESEND_MAX_AGE_MS: positiveInt.max(COMMAND_RESEND_WINDOW_DAYS * 86_400_000).default(86_400_000),
  /** Processes serving HTTP on the one port (node:cluster); each is a gateway instance. */
  GATEWAY_WORKERS: positiveInt.max(64).default(1),
  /** Base for absolute URLs (pagination links); taken from the request's Host when unset. */
  PUBLIC_URL: z.string().url().optional(),
});
export type GatewayConfig = z.infer<typeof GatewayConfig>;

export const LedgerConfig = CommonConfig.extend({
  LEDGER_GROUP_ID: z.string().min(1).default("ledger"),
  COMMAND_SIGNING_KEYS: signingKeys,
  /** Partitions handled at once; their batches share one Postgres transaction (group commit). */
  LEDGER_PARTITIONS_CONCURRENCY: positiveInt.max(64).default(12),
  METRICS_PORT: port.default(9101),
  /**
   * Days command records, idempotency keys and partner event claims are kept. Must outlive what
   * Kafka can still redeliver (ledger.commands keeps KAFKA_TOPIC_RETENTION_DAYS, and a gateway may
   * send an undecided command again for COMMAND_RESEND_WINDOW_DAYS), or a redelivered command
   * could be applied twice.
   */
  RETENTION_DAYS: positiveInt.max(36_500).default(30),
  RETENTION_PRUNE_INTERVAL_S: positiveInt.max(86_400).default(300),
}).refine((c) => c.RETENTION_DAYS > KAFKA_TOPIC_RETENTION_DAYS + COMMAND_RESEND_WINDOW_DAYS, {
  path: ["RETENTION_DAYS"],
  message: `must be more than the topics' retention (${KAFKA_TOPIC_RETENTION_DAYS} days) plus the gateways' resend window (${COMMAND_RESEND_WINDOW_DAYS} day), so a redelivered command is still recognised`,
});
export type LedgerConfig = z.infer<typeof LedgerConfig>;

export const IngestConfig = CommonConfig.extend({
  INGEST_GROUP_ID: z.string().min(1).default("ingest"),
  COMMAND_SIGNING_KEYS: signingKeys,
  /** Partitions verified and forwarded at once. */
  INGEST_PARTITIONS_CONCURRENCY: positiveInt.max(64).default(4),
  METRICS_PORT: port.default(9102),
});
export type IngestConfig = z.infer<typeof IngestConfig>;

export type ConfigResult<T> = { ok: true; config: T } | { ok: false; message: string };

export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): ConfigResult<z.infer<S>> {
  // Empty strings count as unset, as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return { ok: true, config: parsed.data };
  const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
  return { ok: false, message: `invalid configuration:\n${lines.join("\n")}` };
}

/** For main.ts: the parsed config, or a message on stderr and exit code 2. */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, service: string): z.infer<S> {
  const result = parseConfig(schema, process.env);
  if (result.ok) return result.config;
  process.stderr.write(`${service}: ${result.message}\n`);
  process.exit(2);
}

export function topicNames(topicPrefix: string) {
  return {
    commands: `${topicPrefix}ledger.commands`,
    commandsDlq: `${topicPrefix}ledger.commands.dlq`,
    events: `${topicPrefix}ledger.events`,
    partnerTransactions: `${topicPrefix}partner.transactions`,
    partnerDlq: `${topicPrefix}partner.transactions.dlq`,
  } as const;
}
export type TopicNames = ReturnType<typeof topicNames>;
