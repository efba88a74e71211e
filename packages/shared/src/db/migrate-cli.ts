import { CommonConfig, loadConfigOrExit } from "../config";
import { ensureDatabase, migrate } from "./migrate";

const config = loadConfigOrExit(CommonConfig, "migrate");
await ensureDatabase(config.DATABASE_URL);
const applied = await migrate(config.DATABASE_URL, (m) => console.log(m));
console.log(applied.length ? `migrated (${applied.length} applied)` : "database is up to date");
