/** Page-number pagination with absolute next/previous links, shared by every list route. */

import type { Request } from "express";
import { z } from "zod";

export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 1_000;
/** Deep offsets cost a scan; beyond this, clients should filter instead. */
export const PAGE_MAX = 1_000_000;

export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).max(PAGE_MAX).default(1),
  page_size: z.coerce.number().int().min(1).max(PAGE_SIZE_MAX).default(PAGE_SIZE_DEFAULT),
});
export type PageQuery = z.infer<typeof PageQuery>;

export function baseUrl(req: Request, publicUrl?: string): string {
  if (publicUrl) return publicUrl.replace(/\/$/, "");
  return `${req.protocol}://${req.get("host") ?? "localhost"}`;
}

export function pageLinks(req: Request, page: PageQuery, count: number, publicUrl?: string) {
  const link = (n: number) => {
    const url = new URL(`${baseUrl(req, publicUrl)}${req.baseUrl}${req.path}`);
    for (const [k, v] of Object.entries(req.query)) if (typeof v === "string") url.searchParams.set(k, v);
    url.searchParams.set("page", String(n));
    url.searchParams.set("page_size", String(page.page_size));
    return url.toString();
  };
  const last = Math.max(1, Math.ceil(count / page.page_size));
  return {
    count,
    next: page.page < last ? link(page.page + 1) : null,
    previous: page.page > 1 ? link(Math.min(page.page - 1, last)) : null,
  };
}

export const pageEnvelope = <T extends z.ZodType>(item: T) =>
  z.object({
    count: z.number().int(),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(item),
  });
