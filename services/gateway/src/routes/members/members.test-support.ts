/** Test helpers for the member register: a gateway on a fresh database, and member bodies. */

import { createTestEnv } from "@points/testing";
import { startTestApp, type TestApp } from "../../test-app.test-support";

export interface MembersHarness {
  app: TestApp;
  stop: () => Promise<void>;
}

export async function startMembersHarness(config: Record<string, string> = {}): Promise<MembersHarness> {
  const env = await createTestEnv();
  const app = await startTestApp({
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    redisKeyPrefix: env.redisKeyPrefix,
    config,
  });
  return {
    app,
    stop: async () => {
      await app.stop();
      await env.cleanup();
    },
  };
}

export interface MemberBody {
  loyalty_id: string;
  client_name: string;
  client_birthday: string;
  cardno?: string | null;
  discount?: string | number | null;
  is_male?: boolean | null;
  [field: string]: unknown;
}

export const memberBody = (loyaltyId: string, extra: Partial<MemberBody> = {}): MemberBody => ({
  loyalty_id: loyaltyId,
  client_name: `client ${loyaltyId}`,
  client_birthday: "1990-01-31",
  ...extra,
});

/** A ledger entry written straight into the table, as the ledger would after an earn. */
export async function addLedgerEntry(app: TestApp, userId: string): Promise<void> {
  await app.pool.query(
    `INSERT INTO entries (user_id, entry_id, seq, type, authority_id, payer, amount, ts, created_on, command_id)
     VALUES ($1, gen_random_uuid(), 1, 'earn', 'DANNON', 'DANNON', 100, now(), now(), 'test-' || gen_random_uuid())`,
    [userId],
  );
}

export const memberPath = (id: string) => `/v1/members/${encodeURIComponent(id)}`;
