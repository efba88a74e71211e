/**
 * The ledger's in-memory map keys, in one place: a user id is any text up to 50 characters, so
 * each key joins its parts with NUL, which Postgres text (and so no stored id) can ever hold.
 */

/** One command of one user: commands are unique per (user_id, command_id). */
export function commandKey(userId: string, commandId: string): string {
  return `${userId}\u0000${commandId}`;
}

/** One lot: its arrival is unique per user. */
export function lotKey(userId: string, arrival: bigint): string {
  return `${userId}\u0000${arrival}`;
}

/** One payer's points of one user. */
export function payerKey(userId: string, payer: string): string {
  return `${userId}\u0000${payer}`;
}
