/** The commands table: every decided command with the answer it gave (see CommandRecord). */
import type { CommandRecord } from "../command-record";
import type { TableWrite } from "./unnest";

export const insertCommands: TableWrite<CommandRecord> = {
  columns: [
    { name: "user_id", type: "text", value: (c) => c.user_id },
    { name: "command_id", type: "text", value: (c) => c.command_id },
    { name: "request_hash", type: "text", value: (c) => c.request_hash },
    { name: "type", type: "text", value: (c) => c.type },
    { name: "status", type: "text", value: (c) => c.status },
    { name: "actor", type: "text", value: (c) => c.actor },
    // json, not jsonb: jsonb reorders keys, and a replay must give the first answer's bytes.
    { name: "response", type: "json", value: (c) => JSON.stringify(c.response) },
    { name: "seq", type: "bigint", value: (c) => c.seq },
  ],
  sql: (from, names) => `INSERT INTO commands (${names}) SELECT ${names} FROM ${from}`,
};
