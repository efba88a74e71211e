/**
 * Query strings of the wallet reads, taken from the raw URL. Lists are comma-separated, and a
 * member id may itself contain a comma: splitting the raw text before percent-decoding lets a
 * client send such a comma as %2C. Repeating a parameter appends to its list.
 */

import type { Request } from "express";
import { httpError } from "../../http-errors";
import { baseUrl } from "../../pagination";

export type RawQuery = Record<string, string | string[]>;

/** The request's query: list parameters as arrays of ids, every other parameter as its text. */
export function readQuery(req: Request, listNames: readonly string[]): RawQuery {
  const query: RawQuery = {};
  for (const [rawName, rawValue] of rawPairs(req)) {
    const name = decode(rawName, "");
    if (listNames.includes(name)) {
      const previous = query[name];
      const ids = rawValue.split(",").map((id) => decode(id, name));
      query[name] = [...(Array.isArray(previous) ? previous : []), ...ids];
    } else {
      // A repeated scalar becomes an array, which its schema then rejects by type.
      const value = decode(rawValue, name);
      const previous = query[name];
      query[name] = previous === undefined ? value : [previous, value].flat();
    }
  }
  return query;
}

function rawPairs(req: Request): [string, string][] {
  const search = req.originalUrl.split("?").slice(1).join("?");
  return search
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => {
      const eq = pair.indexOf("=");
      return eq === -1 ? [pair, ""] : [pair.slice(0, eq), pair.slice(eq + 1)];
    });
}

function decode(text: string, field: string): string {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    throw httpError("validation_failed", "the query string is not valid", {
      fields: { [field ? `query.${field}` : "query"]: ["is not valid percent-encoding"] },
    });
  }
}

/**
 * RFC 8288 Link header for list answers that are plain arrays: the query as parsed, re-encoded
 * (so an id's comma stays %2C and nothing the client sent is echoed raw), with page and
 * page_size replaced.
 */
export function pageLinkHeader(
  req: Request,
  query: RawQuery,
  page: { page: number; page_size: number },
  hasNext: boolean,
  publicUrl?: string,
): string | null {
  const kept = Object.entries(query)
    .filter(([name]) => name !== "page" && name !== "page_size")
    .map(
      ([name, value]) => `${encodeURIComponent(name)}=${[value].flat().map(encodeURIComponent).join(",")}`,
    );
  const link = (n: number, rel: string) => {
    const search = [...kept, `page=${n}`, `page_size=${page.page_size}`].join("&");
    return `<${baseUrl(req, publicUrl)}${req.baseUrl}${req.path}?${search}>; rel="${rel}"`;
  };
  const links = [
    ...(hasNext ? [link(page.page + 1, "next")] : []),
    ...(page.page > 1 ? [link(page.page - 1, "prev")] : []),
  ];
  return links.length > 0 ? links.join(", ") : null;
}
