import { PartnerId } from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { Logger } from "@points/shared/logger";

/**
 * Partners' signing secrets, held in memory so verifying a message costs no round trip. Reloaded
 * periodically (added or rotated partners are picked up without a restart) and on demand when a
 * message names an unknown partner or fails its signature, at most once per RELOAD_INTERVAL_MS_MIN
 * so a stream of junk cannot turn into a stream of queries.
 */
export const RELOAD_INTERVAL_MS_MIN = 1_000;
export const REFRESH_INTERVAL_MS = 30_000;

export class PartnerSecrets {
  private secrets = new Map<string, Buffer>();
  /** When the last successful load started; a load sees every partner committed before it. */
  private loadStartedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    private readonly onReload: () => void = () => {},
  ) {}

  readonly get = (partnerId: string): Buffer | undefined => this.secrets.get(partnerId);

  async start(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => {
      this.reload().catch((err) => this.log.warn({ err: String(err) }, "partner secrets refresh failed"));
    }, REFRESH_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Makes sure the cache reflects a load that started at or after `since` (ms since the epoch),
   * so a partner created before a message was fetched is never reported unknown. Waits for the
   * next allowed reload rather than deciding on an older view.
   */
  async refreshSince(since: number): Promise<void> {
    while (this.loadStartedAt < since) {
      const wait = this.loadStartedAt + RELOAD_INTERVAL_MS_MIN - Date.now();
      if (!this.loading && wait > 0) await sleep(wait);
      else await this.reload();
    }
  }

  /** One load at a time; concurrent callers share it. */
  private reload(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    const startedAt = Date.now();
    const { rows } = await this.pool.query<{ id: string; signing_secret: string }>(
      "SELECT id, signing_secret FROM partners",
    );
    const secrets = new Map<string, Buffer>();
    for (const row of rows) {
      // A payer id the ledger would refuse must not be accepted here and lost there.
      if (PartnerId.safeParse(row.id).success) secrets.set(row.id, Buffer.from(row.signing_secret, "utf8"));
    }
    this.secrets = secrets;
    this.loadStartedAt = Math.max(this.loadStartedAt, startedAt);
    this.onReload();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
