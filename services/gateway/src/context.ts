import type { GatewayConfig } from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { Logger } from "@points/shared/logger";
import type { Redis } from "ioredis";
import type { Registry } from "prom-client";
import type { Authenticator } from "./auth";
import type { BalanceNearCache } from "./balance-near-cache";
import type { CommandBus } from "./command-bus";

/** What route handlers may use. Built by main.ts (or a test) and passed to createApp. */
export interface GatewayContext {
  config: GatewayConfig;
  pool: Pool;
  /** Commands only (GET balance, cache fill, publish); fails fast when Redis is down. */
  redis: Redis;
  bus: CommandBus;
  /** Balances kept in memory, invalidated by Redis (absent in tests that do not need it). */
  nearCache?: BalanceNearCache;
  auth: Authenticator;
  log: Logger;
  metrics: Registry;
  /** Dependency checks for /health: name -> probe. */
  health: Record<string, () => Promise<void>>;
  /** Tells every gateway instance to drop cached tokens (after a token is issued). */
  invalidateTokens: () => Promise<void>;
}
