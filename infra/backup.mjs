#!/usr/bin/env node
// Backup and restore for small installs (README "Backup and restore"): a logical dump of the
// whole database with pg_dump's custom format, and a restore into a new, empty database.
// Larger installs use a base backup plus WAL archiving (point-in-time recovery), see the README.
//   node infra/backup.mjs dump <file> [DATABASE_URL]
//   node infra/backup.mjs restore <file> <DATABASE_URL of a database that does not exist yet>
import { execFileSync } from "node:child_process";

const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/points";

function usage(message) {
  process.stderr.write(
    `${message}\nusage: backup.mjs dump <file> [DATABASE_URL] | restore <file> <DATABASE_URL>\n`,
  );
  process.exit(2);
}

/** The server's maintenance database, for CREATE DATABASE. */
function adminUrl(databaseUrl) {
  const url = new URL(databaseUrl);
  url.pathname = "/postgres";
  return url.toString();
}

export function dump(file, databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL) {
  // --format=custom: compressed, restorable table by table; one consistent snapshot of everything.
  execFileSync("pg_dump", ["--format=custom", "--no-owner", "--file", file, databaseUrl], {
    stdio: "inherit",
  });
}

export function restore(file, databaseUrl) {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^[A-Za-z0-9_]+$/.test(name))
    usage(`database name ${JSON.stringify(name)}: letters, digits and _ only`);
  // Restoring over live data would mix two ledgers: the target must be new.
  execFileSync(
    "psql",
    ["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", `CREATE DATABASE "${name}"`, adminUrl(databaseUrl)],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  execFileSync("pg_restore", ["--no-owner", "--exit-on-error", "--dbname", databaseUrl, file], {
    stdio: "inherit",
  });
}

const [command, file, databaseUrl] = process.argv.slice(2);
if (import.meta.url === `file://${process.argv[1]}`) {
  if (!file) usage("missing <file>");
  if (command === "dump") dump(file, databaseUrl);
  else if (command === "restore") databaseUrl ? restore(file, databaseUrl) : usage("missing <DATABASE_URL>");
  else usage(`unknown command ${command}`);
}
