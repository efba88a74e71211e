import { json, type Session } from "../api";
import { navigate, withQuery } from "../router";
import { PageHeading, Section, TableHead, useLoad, When } from "../ui";

interface DeadLetter {
  source: "partner" | "ledger";
  partition: number;
  offset: string;
  partner_id?: string;
  error_code: string;
  error_message: string;
  received_at: string;
  value_excerpt: string;
}

const LIMITS = [50, 100, 500];

/** Dead letters (admin): what the ingest and the ledger could not use, newest first. */
export function DeadLettersPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const source = query.get("source") ?? "";
  const limit = Number(query.get("limit") ?? 50) || 50;
  const loaded = useLoad(
    () => json<DeadLetter[]>(session.token, withQuery("/v1/dead-letters", { source, limit })),
    [session.token, source, limit],
  );
  const set = (change: Record<string, string | number>) =>
    navigate(withQuery("dead-letters", { source, limit, ...change }));
  return (
    <>
      <PageHeading>Dead letters</PageHeading>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label for="dl-source">Source</label>
        <select id="dl-source" value={source} onChange={(e) => set({ source: e.currentTarget.value })}>
          <option value="">all</option>
          <option value="partner">partner (partner.transactions)</option>
          <option value="ledger">ledger (ledger.commands)</option>
        </select>
        <label for="dl-limit">Show</label>
        <select id="dl-limit" value={String(limit)} onChange={(e) => set({ limit: e.currentTarget.value })}>
          {LIMITS.map((l) => (
            <option key={l} value={String(l)}>
              {l}
            </option>
          ))}
        </select>
      </form>
      <Section title="Recent dead letters" loaded={loaded}>
        {(rows) =>
          rows.length === 0 ? (
            <p>Nothing was dead-lettered.</p>
          ) : (
            <table>
              <TableHead
                columns={[
                  "Received",
                  "Source",
                  { label: "Partition", num: true },
                  { label: "Offset", num: true },
                  "Partner",
                  "Code",
                  "Message",
                  "Value (excerpt)",
                ]}
              />
              <tbody>
                {rows.map((d) => (
                  <tr key={`${d.source}-${d.partition}-${d.offset}`}>
                    <td>
                      <When value={d.received_at} />
                    </td>
                    <td>{d.source}</td>
                    <td class="num">{d.partition}</td>
                    <td class="num">{d.offset}</td>
                    <td>{d.partner_id ?? ""}</td>
                    <td>
                      <code>{d.error_code}</code>
                    </td>
                    <td>{d.error_message}</td>
                    <td>
                      <code class="excerpt">{d.value_excerpt}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Section>
    </>
  );
}
