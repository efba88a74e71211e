import type { Pool } from "@points/shared/db";
import type { AcceptedEvent } from "./verify-partner-event";

/**
 * Binds each (partner, event_id) to the first content seen for it (table partner_events), in one
 * statement per chunk. The answer, per event key, is the request hash that owns the id: a message
 * whose own hash differs re-uses an event id (possibly for another user) and must not be applied.
 * Re-claiming with the same hash is harmless, which keeps redelivery after a crash safe.
 */
const CLAIM_ATTEMPTS_MAX = 3;

const CLAIM_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(partner_id, event_id, request_hash, user_id)
), inserted AS (
  INSERT INTO partner_events (partner_id, event_id, request_hash, user_id)
  SELECT partner_id, event_id, request_hash, user_id FROM input ORDER BY partner_id, event_id
  ON CONFLICT (partner_id, event_id) DO NOTHING
  RETURNING partner_id, event_id, request_hash
)
SELECT partner_id, event_id, request_hash FROM inserted
UNION ALL
SELECT p.partner_id, p.event_id, p.request_hash FROM partner_events p JOIN input USING (partner_id, event_id)`;

export function eventKey(partnerId: string, eventId: string): string {
  return `${partnerId}\u0000${eventId}`;
}

/** Owning request hash per event key, for every event given. */
export async function claimEvents(pool: Pool, events: AcceptedEvent[]): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  // First occurrence per key: later ones in the same chunk are compared with whatever owns the id.
  let pending = dedupeFirst(events);
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > CLAIM_ATTEMPTS_MAX) throw new Error(`could not claim ${pending.length} partner events`);
    const { rows } = await pool.query<{ partner_id: string; event_id: string; request_hash: string }>(
      CLAIM_SQL,
      [
        pending.map((e) => e.partnerId),
        pending.map((e) => e.event.event_id),
        pending.map((e) => e.requestHash),
        pending.map((e) => e.event.user_id),
      ],
    );
    for (const r of rows) owners.set(eventKey(r.partner_id, r.event_id), r.request_hash);
    // A row committed by a concurrent claim after this statement's snapshot is neither inserted
    // nor visible; the next statement (new snapshot) sees it.
    pending = pending.filter((e) => !owners.has(eventKey(e.partnerId, e.event.event_id)));
  }
  return owners;
}

function dedupeFirst(events: AcceptedEvent[]): AcceptedEvent[] {
  const first = new Map<string, AcceptedEvent>();
  for (const e of events) {
    const key = eventKey(e.partnerId, e.event.event_id);
    if (!first.has(key)) first.set(key, e);
  }
  return [...first.values()];
}
