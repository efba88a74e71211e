/**
 * Request coalescing for the payer report: callers asking the same report (same key) while one
 * read of it runs share the next read, which starts when the running one ends. A report costs
 * ~20 ms of Postgres whatever its period (README, Accounting), so ten consoles polling the same
 * report would otherwise run ten reads at once on two cores and queue behind each other.
 *
 * Why the next read and not the running one: a read that began before a caller arrived may miss
 * a write that was acknowledged to that caller before its request, so joining it would break
 * read-your-writes. The next read begins after every caller waiting for it arrived, so each
 * answer is at least as fresh as a read of its own. Costs: at most one read per key at a time,
 * and a caller waits for at most two reads.
 *
 * Bounded by the callers in flight: a key's slot exists only while a read of it runs.
 */

interface Waiting<A, V> {
  /** The first waiting caller's argument (every waiting caller's has the same key). */
  arg: A;
  promise: Promise<V>;
  resolve: (v: V) => void;
  reject: (e: unknown) => void;
}

interface Slot<A, V> {
  /** Callers that arrived while a read ran: they share the next one. */
  next: Waiting<A, V> | null;
}

export interface Coalesced<A, V> {
  (arg: A): Promise<V>;
  /** Keys with a read running: the map's size, which the tests check returns to 0 (the bound above). */
  readonly running: () => number;
}

/** `read(arg)` for each caller, shared between callers of one `keyOf(arg)` as described above. */
export function coalesce<A, V>(read: (arg: A) => Promise<V>, keyOf: (arg: A) => string): Coalesced<A, V> {
  const slots = new Map<string, Slot<A, V>>();

  const run = (key: string, slot: Slot<A, V>, arg: A): Promise<V> => {
    let done: Promise<V>;
    try {
      done = read(arg);
    } catch (e) {
      // A read that throws before returning its promise must still free the key.
      done = Promise.reject(e);
    }
    const after = () => {
      const next = slot.next;
      slot.next = null;
      if (next === null) {
        slots.delete(key);
        return;
      }
      run(key, slot, next.arg).then(next.resolve, next.reject);
    };
    done.then(after, after);
    return done;
  };

  const call = (arg: A): Promise<V> => {
    const key = keyOf(arg);
    const slot = slots.get(key);
    if (slot === undefined) {
      const fresh: Slot<A, V> = { next: null };
      slots.set(key, fresh);
      return run(key, fresh, arg);
    }
    if (slot.next === null) {
      let resolve!: (v: V) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<V>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      slot.next = { arg, promise, resolve, reject };
    }
    return slot.next.promise;
  };
  return Object.assign(call, { running: () => slots.size });
}
