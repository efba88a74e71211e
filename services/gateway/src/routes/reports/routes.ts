/**
 * Accounting reports (contract 7, 8): what each payer owes and how it moved. The figures come
 * from the store (maintained by the ledger, read by store.ts); this layer checks the period,
 * the caller's scope (admin: every payer; a partner: only itself; members: never), pages and
 * renders JSON or CSV.
 */

import { DailyRow, MemberOutstanding, PayerReport } from "@points/shared";
import { Router } from "express";
import { z } from "zod";
import type { GatewayContext } from "../../context";
import { asOfOr400, httpError } from "../../http-errors";
import { json } from "../../openapi";
import { pageEnvelope, pageLinks } from "../../pagination";
import { authorize } from "../../permissions";
import { mount, route } from "../../route";
import { coalesce } from "./coalesce";
import { reportCsv } from "./csv";
import { DAILY_DAYS_MAX, MembersQuery, PayerParams, PeriodQuery } from "./schema";
import * as defaultStore from "./store";
import type { ReportStore } from "./store-api";

const READ_ERRORS = [400, 401, 403, 429];
// A payer segment that is not one path segment (e.g. an encoded '/') routes nowhere: 404.
const PAYER_READ_ERRORS = [...READ_ERRORS, 404];
const DAY_MS = 24 * 3600 * 1000;
const today = (now: number) => new Date(now).toISOString().slice(0, 10);
const ownPayer = {
  action: "reports.members" as const,
  target: (p: { payer: string }) => ({ payer: p.payer }),
};

/** The period asked for, with the contract's defaults; 400 when it is reversed or after today. */
async function period(store: ReportStore, ctx: GatewayContext, q: z.infer<typeof PeriodQuery>, now: number) {
  const to = q.to ?? today(now);
  const from = q.from ?? (await store.firstEntryDay(ctx.pool)) ?? to;
  const fields: Record<string, string[]> = {};
  if (to > today(now)) fields.to = ["must not be after today (UTC)"];
  if (from > to) fields.from = ["must not be after to"];
  if (Object.keys(fields).length > 0) throw httpError("validation_failed", "invalid query", { fields });
  return { from, to };
}

export function reportRoutes(ctx: GatewayContext, store: ReportStore = defaultStore): Router {
  return mount(Router(), [payersRoute(ctx, store), membersRoute(ctx, store), dailyRoute(ctx, store)]);
}

/** The payer report: one row per payer and period. */
function payersRoute(ctx: GatewayContext, store: ReportStore) {
  // Identical reports asked at once share a read (coalesce.ts); `now` is taken when the read
  // starts, after every caller it serves arrived.
  const report = coalesce(
    (q: { from: string; to: string; payer?: string }) =>
      store.payerReport(ctx.pool, { ...q, now: new Date() }),
    (q) => JSON.stringify([q.from, q.to, q.payer ?? null]),
  );
  return route({
    method: "get",
    path: "/v1/reports/payers",
    summary:
      "Per payer and period: opening, movements, closing and held points (JSON, or CSV with Accept: text/csv)",
    tags: ["reports"],
    permission: "reports.payers",
    query: PeriodQuery,
    responses: {
      200: {
        description: "The report: one row per payer (a partner sees only its own row)",
        content: {
          "application/json": { schema: PayerReport },
          "text/csv": {
            schema: z.string().meta({ description: "A header line, then one line per payer" }),
          },
        },
      },
    },
    errors: READ_ERRORS,
    handle: async (req, res, { query }) => {
      const p = authorize(req, "reports.payers");
      const now = Date.now();
      const { from, to } = await period(store, ctx, query, now);
      const payers = await report({ from, to, ...(p.role === "partner" ? { payer: p.id } : {}) });
      if (req.accepts(["application/json", "text/csv"]) === "text/csv") {
        res.type("text/csv; charset=utf-8").send(reportCsv(payers));
        return;
      }
      res.json({ from, to, payers });
    },
  });
}

/** Who holds a payer's points, most first. */
function membersRoute(ctx: GatewayContext, store: ReportStore) {
  return route({
    method: "get",
    path: "/v1/reports/payers/{payer}/members",
    summary: "The members holding a payer's points (unexpired, held included), most first, then user_id",
    tags: ["reports"],
    permission: ownPayer,
    params: PayerParams,
    query: MembersQuery,
    responses: { 200: json(pageEnvelope(MemberOutstanding), "A page of members") },
    errors: PAYER_READ_ERRORS,
    handle: async (req, res, { params, query }) => {
      const asOf = asOfOr400(query.as_of, Date.now());
      const { count, rows } = await store.payerMembers(ctx.pool, {
        payer: params.payer,
        asOf: new Date(asOf),
        limit: query.page_size,
        offset: (query.page - 1) * query.page_size,
      });
      res.json({ ...pageLinks(req, query, count, ctx.config.PUBLIC_URL), results: rows });
    },
  });
}

/** A payer's figures per UTC day. */
function dailyRoute(ctx: GatewayContext, store: ReportStore) {
  return route({
    method: "get",
    path: "/v1/reports/payers/{payer}/daily",
    summary: "A payer's movements and closing per UTC day (the console's chart)",
    tags: ["reports"],
    permission: ownPayer,
    params: PayerParams,
    query: PeriodQuery,
    responses: { 200: json(z.array(DailyRow), "One row per day") },
    errors: PAYER_READ_ERRORS,
    handle: async (_req, res, { params, query }) => {
      const { from, to } = await period(store, ctx, query, Date.now());
      const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
      if (days > DAILY_DAYS_MAX) {
        throw httpError("validation_failed", "invalid query", {
          fields: { from: [`the period may cover at most ${DAILY_DAYS_MAX} days`] },
        });
      }
      res.json(await store.payerDaily(ctx.pool, { payer: params.payer, from, to }));
    },
  });
}
