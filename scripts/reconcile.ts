// `npm run reconcile` (issue 15): proves from the raw tables that the accounting report figures
// are right (services/ledger/src/report-figures-reconcile.ts says what is checked). Prints every
// difference (payer, day) and exits 1 when there is one, 2 when it cannot run.
import { describeDifference, reconcile } from "@points/ledger/report-figures-reconcile";
import pg from "pg";

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write("reconcile: set DATABASE_URL\n");
  process.exit(2);
}
const client = new pg.Client({ connectionString: url });
try {
  await client.connect();
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
