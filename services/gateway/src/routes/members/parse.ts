/**
 * Request bodies of the register as typed values, or 400 with per-field messages: `fields` for
 * one object, `items` aligned with the input for an array (`{}` for each valid item).
 */

import type { z } from "zod";
import { addField, httpError } from "../../http-errors";
import { BULK_MEMBERS_MAX, MemberInput, type UpsertBody } from "./schema";

type Fields = Record<string, string[]>;

/** Like fieldsOf, but an unknown key is reported under its own name, not under the whole body. */
export function memberFields(error: z.ZodError, root: string): Fields {
  const fields: Fields = {};
  const add = (name: string, message: string) => addField(fields, name, message);
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) add([...issue.path.map(String), key].join("."), "is not a member field");
    } else {
      add(issue.path.map(String).join(".") || root, issue.message);
    }
  }
  return fields;
}

export function parseMember<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw httpError("validation_failed", "the member is not valid", {
    fields: memberFields(result.error, "body"),
  });
}

/** One object or an array of them; all valid, with no loyalty_id twice, or nothing is written. */
export function parseUpsertBody(body: unknown): UpsertBody {
  if (!Array.isArray(body)) return parseMember(MemberInput, body);
  if (body.length > BULK_MEMBERS_MAX) {
    throw httpError("validation_failed", `at most ${BULK_MEMBERS_MAX} members per request`, {
      fields: { body: [`must hold at most ${BULK_MEMBERS_MAX} members, got ${body.length}`] },
    });
  }
  const firstIndex = new Map<string, number>();
  const members: MemberInput[] = [];
  const items: Fields[] = [];
  let invalid = 0;
  body.forEach((raw, i) => {
    const id = (raw as { loyalty_id?: unknown } | null)?.loyalty_id;
    const earlier = typeof id === "string" ? firstIndex.get(id) : undefined;
    if (typeof id === "string" && earlier === undefined) firstIndex.set(id, i);
    const result = MemberInput.safeParse(raw);
    const fields = result.success ? {} : memberFields(result.error, "item");
    if (earlier !== undefined) {
      fields.loyalty_id = [...(fields.loyalty_id ?? []), `repeats the loyalty_id of item ${earlier}`];
    }
    if (result.success && earlier === undefined) members.push(result.data);
    else invalid++;
    items.push(fields);
  });
  if (invalid > 0) {
    throw httpError(
      "validation_failed",
      `${invalid} of ${body.length} members are not valid; nothing was written`,
      { items },
    );
  }
  return members;
}
