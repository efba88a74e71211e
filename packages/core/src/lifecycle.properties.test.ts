import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adjust } from "./adjust";
import { balanceAsOf } from "./balance-as-of";
import { bookProblems, emptyBook } from "./book";
import { LotRegistry, lotViews, snapshotOf } from "./book.test-support";
import { earn } from "./earn";
import { admitLots, balancesAt, dueExpiry, expire } from "./expiry";
import { captureHold, expireHold, placeHold, voidHold } from "./holds";
import { outstandingEffect } from "./movements";
import { type ReversedEntry, reverse, type SpendTake } from "./reverse";
import { type BalanceSnapshot, daySnapshot } from "./snapshot";
import { spend } from "./spend";
import type { Book, ExpireOutcome, LotChange, Movement, MovementCategory, Result } from "./types";

const RUNS = 300;
const PAYERS = ["A", "B", "C"] as const;
/** Lots live 5..40 time units; a run advances time by 0..10 per step, so many lots expire. */
const TTL_MAX = 40;

type Step =
  | { kind: "earn"; payer: string; points: bigint; ts: number; ttl: number | null }
  | { kind: "adjust"; payer: string; points: bigint }
  | { kind: "spend"; points: bigint }
  | { kind: "hold"; points: bigint; ttl: number }
  | { kind: "capture"; pick: number; points: bigint | null }
  | { kind: "void"; pick: number }
  | { kind: "expireHolds" }
  | { kind: "reverseSpend"; pick: number; points: bigint | null }
  | { kind: "reverseEarn"; pick: number; points: bigint | null }
  | { kind: "expire" }
  | { kind: "tick"; by: number };

const payerArb = fc.constantFrom(...PAYERS);
const smallArb = fc.bigInt({ min: 1n, max: 60n });
const maybeSmallArb = fc.option(smallArb, { nil: null });
const pickArb = fc.nat({ max: 20 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("earn" as const),
      payer: payerArb,
      points: smallArb,
      ts: fc.integer({ min: -20, max: 5 }),
      ttl: fc.option(fc.integer({ min: 5, max: TTL_MAX }), { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("adjust" as const), payer: payerArb, points: smallArb }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("spend" as const), points: smallArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("hold" as const),
      points: smallArb,
      ttl: fc.integer({ min: 1, max: 30 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("capture" as const), pick: pickArb, points: maybeSmallArb }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("void" as const), pick: pickArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: "expireHolds" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("reverseSpend" as const),
      pick: pickArb,
      points: maybeSmallArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("reverseEarn" as const), pick: pickArb, points: maybeSmallArb }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "expire" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("tick" as const), by: fc.integer({ min: 0, max: 10 }) }),
  },
);
const stepsArb = fc.array(stepArb, { minLength: 10, maxLength: 60, size: "max" });

/** How often each kind of change happened over a property's runs, so a weak generator shows. */
const seen = new Map<string, number>();
function saw(kind: string): void {
  seen.set(kind, (seen.get(kind) ?? 0) + 1);
}

/** The shell's view: entries it stored, per-payer report figures it kept, lots it can load. */
class Shell {
  readonly book: Book = emptyBook("u1");
  readonly lots = new LotRegistry();
  now = 1_000;
  readonly figures = new Map<string, Map<MovementCategory, bigint>>();
  readonly spends: { takes: SpendTake[] }[] = [];
  readonly earns: Array<Extract<ReversedEntry, { type: "earn" }>> = [];
  readonly holds: string[] = [];

  /** Every movement recorded, in order: what the shell's per-user movements table holds. */
  readonly log: Movement[] = [];

  record(movements: readonly Movement[]): void {
    this.log.push(...movements);
    for (const m of movements) {
      const row = this.figures.get(m.payer) ?? new Map<MovementCategory, bigint>();
      row.set(m.category, (row.get(m.category) ?? 0n) + m.points);
      this.figures.set(m.payer, row);
    }
  }

  /** Keeps what any outcome or rejection recorded; returns whether it was applied. */
  keep<T extends { movements: Movement[]; expiry?: ExpireOutcome; reexpired?: ExpireOutcome }>(
    result: Result<T>,
  ): T | undefined {
    const expiry = result.ok ? result.value.expiry : result.expiry;
    if (expiry) this.record(expiry.movements);
    for (const m of expiry?.movements ?? []) saw(m.category);
    if (result.ok) {
      this.record(result.value.movements);
      for (const m of result.value.movements) saw(m.category);
      if (result.value.reexpired) this.record(result.value.reexpired.movements);
      if (result.value.reexpired) saw("reexpired");
    } else {
      saw(result.error.code);
    }
    this.lots.track(this.book);
    return result.ok ? result.value : undefined;
  }

  figure(payer: string, category: MovementCategory): bigint {
    return this.figures.get(payer)?.get(category) ?? 0n;
  }
}

function apply(shell: Shell, step: Step): void {
  const { book, now } = shell;
  switch (step.kind) {
    case "earn": {
      const ts = now + step.ts;
      const expiresAt = step.ttl === null ? null : ts + step.ttl;
      const out = shell.keep(earn(book, { payer: step.payer, points: step.points, ts, expiresAt, now }));
      if (out)
        shell.earns.push({
          type: "earn",
          arrival: out.lot.arrival,
          ts,
          payer: step.payer,
          points: step.points,
          reversed: 0n,
        });
      return;
    }
    case "adjust":
      shell.keep(adjust(book, { payer: step.payer, points: step.points, ts: now, now }));
      return;
    case "spend": {
      const out = shell.keep(spend(book, { points: step.points, now }));
      if (out) shell.spends.push({ takes: shell.lots.takesOf(out.changes) });
      return;
    }
    case "hold": {
      const holdId = `h${shell.holds.length}`;
      if (shell.keep(placeHold(book, { holdId, points: step.points, expiresAt: now + step.ttl, now })))
        shell.holds.push(holdId);
      return;
    }
    case "capture":
    case "void":
      closeHold(shell, step);
      return;
    case "expireHolds":
      for (const hold of [...(book.holds?.values() ?? [])]) {
        if (hold.expiresAt <= now) expectApplied(shell.keep(expireHold(book, { holdId: hold.holdId, now })));
      }
      return;
    case "reverseSpend":
      reverseSpend(shell, step);
      return;
    case "reverseEarn":
      reverseEarn(shell, step);
      return;
    case "expire":
      shell.keep(ok(expire(book, now)));
      return;
    case "tick":
      shell.now += step.by;
      return;
  }
}

const ok = <T>(value: T): Result<T> => ({ ok: true, value });

function expectApplied(value: unknown): void {
  expect(value).toBeDefined();
}

function closeHold(shell: Shell, step: Extract<Step, { kind: "capture" | "void" }>): void {
  const holdId = shell.holds[step.pick % Math.max(1, shell.holds.length)];
  if (holdId === undefined) return;
  const open = shell.book.holds?.get(holdId);
  const input = { holdId, now: shell.now };
  const out =
    step.kind === "void"
      ? shell.keep(voidHold(shell.book, input))
      : shell.keep(captureHold(shell.book, { ...input, ...(step.points ? { points: step.points } : {}) }));
  if (!out || open === undefined) return;
  // capture + release = hold, per payer.
  const heldBy = new Map<string, bigint>();
  for (const take of open.takes) heldBy.set(take.payer, (heldBy.get(take.payer) ?? 0n) + take.points);
  const back = new Map<string, bigint>();
  for (const p of out.byPayer) back.set(p.payer, (back.get(p.payer) ?? 0n) - p.points);
  for (const p of out.released) back.set(p.payer, (back.get(p.payer) ?? 0n) + p.points);
  expect(back).toEqual(heldBy);
  if (step.kind === "capture") shell.spends.push({ takes: shell.lots.takesOf(capturedChanges(out.changes)) });
}

/** A capture's spend entry: the changes that moved held points into spent (no remaining change). */
function capturedChanges(changes: readonly LotChange[]): LotChange[] {
  return changes
    .filter((c) => c.heldDelta !== undefined && c.remainingDelta === 0n)
    .map((c) => ({ ...c, remainingDelta: c.heldDelta ?? 0n }));
}

function reverseSpend(shell: Shell, step: Extract<Step, { kind: "reverseSpend" }>): void {
  const entry = shell.spends[step.pick % Math.max(1, shell.spends.length)];
  if (entry === undefined) return;
  admitLots(shell.book, shell.lots.lotsOf(entry.takes.map((take) => take.arrival)));
  const out = shell.keep(
    reverse(shell.book, {
      entryId: "s",
      entry: { type: "spend", takes: entry.takes },
      now: shell.now,
      ...(step.points ? { points: step.points } : {}),
    }),
  );
  for (const given of out?.takesReversed ?? []) {
    const take = entry.takes.find((t) => t.arrival === given.arrival)!;
    take.reversed += given.points;
  }
}

function reverseEarn(shell: Shell, step: Extract<Step, { kind: "reverseEarn" }>): void {
  const entry = shell.earns[step.pick % Math.max(1, shell.earns.length)];
  if (entry === undefined) return;
  admitLots(shell.book, [shell.lots.get(entry.arrival)]);
  const input = { entryId: "e", entry, now: shell.now, ...(step.points ? { points: step.points } : {}) };
  const out = shell.keep(reverse(shell.book, input));
  if (out) entry.reversed += out.points;
}

function checkInvariants(shell: Shell): void {
  const { book } = shell;
  expect(bookProblems(book)).toEqual([]);
  for (const lot of book.lots) {
    for (const value of [
      lot.remaining,
      lot.adjusted,
      lot.held ?? 0n,
      lot.expired ?? 0n,
      lot.reversed ?? 0n,
    ]) {
      expect(value >= 0n).toBe(true);
    }
  }
  for (const [payer, state] of book.payers) {
    expect(state.available >= 0n && (state.held ?? 0n) >= 0n).toBe(true);
    // Conservation per payer: what the report figures say is owed is what the lots hold.
    const owed = [...(shell.figures.get(payer) ?? new Map())].reduce(
      (sum, [category, points]) => sum + outstandingEffect({ payer, category, points, at: 0 }),
      0n,
    );
    expect(owed).toBe(state.available + (state.held ?? 0n));
    expect(shell.figure(payer, "held")).toBe(state.held ?? 0n);
  }
  // Lot by lot, over every lot ever earned: earned = unspent + held + (spent - spend_reversed)
  // + adjusted + expired + earn_reversed, per payer.
  const parts = new Map<
    string,
    { points: bigint; expired: bigint; reversed: bigint; adjusted: bigint; spent: bigint }
  >();
  for (const lot of shell.lots.all()) {
    const row = parts.get(lot.payer) ?? { points: 0n, expired: 0n, reversed: 0n, adjusted: 0n, spent: 0n };
    const held = lot.held ?? 0n;
    const expired = lot.expired ?? 0n;
    const reversed = lot.reversed ?? 0n;
    row.points += lot.points;
    row.expired += expired;
    row.reversed += reversed;
    row.adjusted += lot.adjusted;
    row.spent += lot.points - lot.remaining - lot.adjusted - held - expired - reversed;
    parts.set(lot.payer, row);
  }
  for (const [payer, row] of parts) {
    expect(row.points).toBe(shell.figure(payer, "earned"));
    expect(row.expired).toBe(shell.figure(payer, "expired"));
    expect(row.reversed).toBe(shell.figure(payer, "earn_reversed"));
    expect(row.adjusted).toBe(shell.figure(payer, "adjusted"));
    expect(row.spent).toBe(shell.figure(payer, "spent") - shell.figure(payer, "spend_reversed"));
  }
}

describe("lifecycle properties", () => {
  it("per payer: earned - adjusted - spent + spend_reversed - earn_reversed - expired = unspent + held; nothing negative; book sound", () => {
    fc.assert(
      fc.property(stepsArb, (steps) => {
        const shell = new Shell();
        for (const step of steps) {
          apply(shell, step);
          checkInvariants(shell);
        }
      }),
      { numRuns: RUNS },
    );
    for (const kind of [
      "earned",
      "adjusted",
      "spent",
      "spend_reversed",
      "earn_reversed",
      "expired",
      "held",
      "reexpired",
    ]) {
      expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(10);
    }
    for (const code of [
      "not_enough_funds",
      "payer_points_insufficient",
      "reversal_exceeds_entry",
      "hold_not_active",
    ]) {
      expect(seen.get(code) ?? 0, code).toBeGreaterThan(0);
    }
  });

  it("a full reversal of a spend, right after it, restores the lots exactly", () => {
    fc.assert(
      fc.property(stepsArb, smallArb, (steps, points) => {
        const shell = new Shell();
        for (const step of steps) apply(shell, step);
        expire(shell.book, shell.now);
        shell.lots.track(shell.book);
        const before = snapshotOf(shell.book);
        const out = shell.keep(spend(shell.book, { points, now: shell.now }));
        if (!out) return;
        const takes = shell.lots.takesOf(out.changes);
        admitLots(shell.book, shell.lots.lotsOf(takes.map((take) => take.arrival)));
        expectApplied(
          shell.keep(reverse(shell.book, { entryId: "s", entry: { type: "spend", takes }, now: shell.now })),
        );
        const settled = (lots: typeof before.lots) =>
          lots.filter((l) => l.remaining > 0n || l.adjusted > 0n || (l.held ?? 0n) > 0n);
        const after = snapshotOf(shell.book);
        expect({ ...after, lots: settled(after.lots) }).toEqual({ ...before, lots: settled(before.lots) });
      }),
      { numRuns: RUNS },
    );
  });

  it("rule 3's order-independence holds when no lot expires inside the run (earns with expires_at, negatives)", () => {
    const setArb = fc
      .uniqueArray(fc.integer({ min: 0, max: 1_000 }), { minLength: 4, maxLength: 16, size: "max" })
      .chain((stamps) =>
        fc.tuple(
          ...stamps.map((ts) =>
            fc.record({
              payer: fc.constantFrom("A", "B"),
              points: fc.bigInt({ min: -60n, max: 100n }).filter((p) => p !== 0n),
              ts: fc.constant(ts),
              ttl: fc.option(fc.integer({ min: 10_000, max: 20_000 }), { nil: null }),
            }),
          ),
        ),
      );
    type Item = { payer: string; points: bigint; ts: number; ttl: number | null };
    const NOW = 5_000;
    const run = (book: Book, item: Item) =>
      item.points > 0n
        ? earn(book, {
            payer: item.payer,
            points: item.points,
            ts: item.ts,
            expiresAt: item.ttl === null ? null : item.ts + item.ttl,
            now: NOW,
          })
        : adjust(book, { payer: item.payer, points: -item.points, ts: item.ts, now: NOW });
    fc.assert(
      fc.property(
        setArb.chain((set) => {
          const timeBook = emptyBook("u1");
          const kept = [...set].sort((a, b) => a.ts - b.ts).filter((item) => run(timeBook, item).ok);
          return fc
            .shuffledSubarray(kept, { minLength: kept.length, maxLength: kept.length })
            .map((order) => ({ timeBook, order }));
        }),
        ({ timeBook, order }) => {
          const book = emptyBook("u1");
          for (const item of order) if (!run(book, item).ok) return; // rejected in this order: out of scope
          const view = (b: Book) =>
            lotViews(b).map((lot, i) => ({ ...lot, expiresAt: b.lots[i]!.expiresAt }));
          expect(view(book)).toEqual(view(timeBook));
          expect(book.total).toBe(timeBook.total);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("capture + release = hold, per payer, for any capture amount", () => {
    fc.assert(
      fc.property(stepsArb, smallArb, fc.option(smallArb, { nil: null }), (steps, points, capture) => {
        const shell = new Shell();
        for (const step of steps) apply(shell, step);
        if (
          !shell.keep(
            placeHold(shell.book, { holdId: "x", points, expiresAt: shell.now + 1_000, now: shell.now }),
          )
        )
          return;
        shell.holds.push("x");
        closeHold(shell, { kind: "capture", pick: shell.holds.length - 1, points: capture });
        checkInvariants(shell);
      }),
      { numRuns: RUNS },
    );
  });

  it("balance as of an instant, from now backwards or from a snapshot forwards, is the balance the member had then", () => {
    fc.assert(
      fc.property(stepsArb, fc.nat(), fc.nat(), (steps, pickA, pickB) => {
        const shell = new Shell();
        const history = new Map<number, ReturnType<typeof balancesAt>>();
        for (const step of steps) {
          apply(shell, step);
          history.set(shell.now, balancesAt(shell.book, shell.now));
        }
        const firstSeen = new Map<string, number>();
        for (const m of shell.log) {
          if (m.category === "earned" && !firstSeen.has(m.payer)) firstSeen.set(m.payer, m.at!);
        }
        const instants = [...history.keys()];
        const asOf = instants[pickA % instants.length]!;
        const snapshotAt = instants[pickB % instants.length]!;
        const unrecordedExpiry = dueExpiry(shell.book, shell.now);
        const between = (from: number, to: number) => shell.log.filter((m) => m.at! > from && m.at! <= to);
        const fromNow = balanceAsOf({
          asOf,
          base: { at: shell.now, balances: balancesAt(shell.book, shell.now) },
          movements: between(asOf, shell.now),
          unrecordedExpiry,
          firstSeen,
        });
        expect(fromNow).toEqual(history.get(asOf));
        const [low, high] = snapshotAt <= asOf ? [snapshotAt, asOf] : [asOf, snapshotAt];
        const fromSnapshot = balanceAsOf({
          asOf,
          base: { at: snapshotAt, balances: history.get(snapshotAt)! },
          movements: between(low, high),
          unrecordedExpiry,
          firstSeen,
        });
        expect(fromSnapshot).toEqual(history.get(asOf));
      }),
      { numRuns: RUNS },
    );
  });

  it("a day snapshot taken before the first change after a period start is the balance then, backwards and forwards", () => {
    // Periods of 7 time units stand for UTC days: runs advance 0..10 units per tick.
    const PERIOD = 7;
    fc.assert(
      fc.property(stepsArb, (steps) => {
        const shell = new Shell();
        const history = new Map<number, ReturnType<typeof balancesAt>>();
        const snapshots: BalanceSnapshot[] = [];
        for (const step of steps) {
          // What the ledger writes: the snapshot of the book as it is, if no recorded movement
          // counts after the period start (the member's first change since it).
          const snapshot = step.kind === "tick" ? null : daySnapshot(shell.book, shell.now, PERIOD);
          const latest = shell.log.reduce((max, m) => Math.max(max, m.at!), Number.NEGATIVE_INFINITY);
          if (snapshot && latest <= snapshot.at && !snapshots.some((s) => s.at === snapshot.at)) {
            snapshots.push(snapshot);
            saw("snapshot");
          }
          apply(shell, step);
          history.set(shell.now, balancesAt(shell.book, shell.now));
        }
        const firstSeen = new Map<string, number>();
        for (const m of shell.log) {
          if (m.category === "earned" && !firstSeen.has(m.payer)) firstSeen.set(m.payer, m.at!);
        }
        const unrecordedExpiry = dueExpiry(shell.book, shell.now);
        const between = (from: number, to: number) => shell.log.filter((m) => m.at! > from && m.at! <= to);
        for (const snapshot of snapshots) {
          const backwards = balanceAsOf({
            asOf: snapshot.at,
            base: { at: shell.now, balances: balancesAt(shell.book, shell.now) },
            movements: between(snapshot.at, shell.now),
            unrecordedExpiry,
            firstSeen,
          });
          expect(backwards).toEqual(snapshot.balances);
          for (const [instant, balance] of history) {
            if (instant < snapshot.at) continue;
            const forwards = balanceAsOf({
              asOf: instant,
              base: snapshot,
              movements: between(snapshot.at, instant),
              unrecordedExpiry,
              firstSeen,
            });
            expect(forwards).toEqual(balance);
          }
        }
      }),
      { numRuns: RUNS },
    );
    expect(seen.get("snapshot") ?? 0).toBeGreaterThan(RUNS);
  });
});
