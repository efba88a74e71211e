import { useEffect, useState } from "preact/hooks";

/** A small history router for the pages under /console/ (the gateway answers any of them with index.html). */
export const BASE = "/console/";

export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  const path = window.location.pathname.startsWith(BASE)
    ? window.location.pathname.slice(BASE.length).replace(/\/+$/, "")
    : "";
  return { path, query: new URLSearchParams(window.location.search) };
}

export function navigate(to: string, replace = false): void {
  const url = `${BASE}${to.replace(/^\/+/, "")}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event("console:navigate"));
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    window.addEventListener("popstate", update);
    window.addEventListener("console:navigate", update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("console:navigate", update);
    };
  }, []);
  return location;
}

/** Builds `path?query` from the defined values. */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}
