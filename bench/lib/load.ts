import autocannon from "autocannon";

/** One autocannon run on loopback: req/s and latency percentiles (ms). */
export type LoadResult = {
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  total2xx: number;
};

export interface LoadOptions {
  url: string;
  method: "GET" | "POST";
  connections: number;
  durationS: number;
  /** Requests per second over all connections (open loop); unbounded when absent. */
  overallRate?: number;
  token: string;
  /** Path (and body, and a method other than `method`) per request, e.g. cycling over users. */
  next: () => { path: string; body?: string; method?: "GET" | "POST"; kind?: string };
  /**
   * Sees every answer (slower: autocannon then keeps each body). `kind` is what next() returned
   * for that request: one request in flight per connection, so the connection's context holds it.
   */
  check?: (status: number, body: string, kind: string | undefined) => void;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const headers = { authorization: `Bearer ${o.token}`, "content-type": "application/json" };
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.durationS,
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
    headers,
    requests: [
      {
        method: o.method,
        setupRequest: (req, context) => {
          const { path, body, method, kind } = o.next();
          if (context) (context as { kind?: string }).kind = kind;
          // Fresh headers each time: autocannon writes Content-Length into the headers object it
          // is given, so a GET after a POST would announce a body it does not send and stall.
          return {
            ...req,
            headers: { ...headers },
            path,
            ...(method ? { method } : {}),
            ...(body ? { body } : {}),
          };
        },
        ...(o.check
          ? {
              onResponse: (status: number, body: string, context?: { kind?: string }) =>
                o.check!(status, body, context?.kind),
            }
          : {}),
      },
    ],
  });
  return {
    reqPerS: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total2xx: result["2xx"],
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median of each field over runs. */
export function medianOf<T extends Record<string, number>>(runs: T[]): T {
  const keys = Object.keys(runs[0]!) as (keyof T)[];
  return Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k] as number))])) as T;
}
