// `npm run reconcile` (issue 15): proves from the raw tables that the accounting report figures
// are right (services/ledger/src/report-figures-reconcile.ts says what is checked). Prints every
// difference (payer, day) and exits 1 when there is one, 2 when it cannot run.
// `npm run reconcile -- --repair-totals` first rewrites the running totals (report_totals) from
// the movements, a partition at a time under the ledger's lock of that partition (safe beside a
// running ledger), prints what it changed, then checks.
import { describeDifference, reconcile, repairTotals } from "@points/ledger/report-figures-reconcile";
import pg from "pg";

const USAGE = "usage: DATABASE_URL=... npm run reconcile [-- --repair-totals]\n";
const args = process.argv.slice(2);
const url = process.env.DATABASE_URL;
if (!url || args.some((a) => a !== "--repair-totals")) {
  process.stderr.write(url ? USAGE : `reconcile: set DATABASE_URL\n${USAGE}`);
  process.exit(2);
}
const client = new pg.Client({ connectionString: url });
try {
  await client.connect();
  if (args.includes("--repair-totals")) {
    const repairs = await repairTotals(client);
    for (const r of repairs) {
      process.stdout.write(
        `repaired partition ${r.kafka_partition}: ${r.written} totals row(s) written, ${r.removed} removed\n`,
      );
    }
    process.stdout.write(`reconcile: repaired the running totals of ${repairs.length} partition(s)\n`);
  }
  // One snapshot for every check, so a running ledger cannot make them disagree with each other.
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const differences = await reconcile(client);
  await client.query("COMMIT");
  for (const d of differences) process.stdout.write(`${describeDifference(d)}\n`);
  process.stdout.write(
    differences.length === 0
      ? "reconcile: the report figures match the raw tables\n"
      : `reconcile: ${differences.length} difference(s)\n`,
  );
  process.exitCode = differences.length === 0 ? 0 : 1;
} catch (err) {
  process.stderr.write(`reconcile: ${(err as Error).message}\n`);
  process.exitCode = 2;
} finally {
  await client.end().catch(() => {});
}
