import type { DailyRow, PayerReport, ReportRow } from "@points/shared/messages/report";
import { useEffect, useState } from "preact/hooks";
import { call, enc, json, type Session } from "../api";
import { DailyLines } from "../chart";
import { daysAgoUtc, formatPoints, todayUtc } from "../format";
import { navigate, withQuery } from "../router";
import { ErrorMessage, PageHeading, Section, TableHead, useAction, useLoad } from "../ui";

const COLUMNS: [keyof ReportRow, string][] = [
  ["opening", "Opening"],
  ["earned", "Earned"],
  ["adjusted", "Adjusted"],
  ["spent", "Spent"],
  ["spend_reversed", "Spend reversed"],
  ["earn_reversed", "Earn reversed"],
  ["expired", "Expired"],
  ["closing", "Closing"],
  ["held", "Held"],
];
const MOVEMENTS: [keyof DailyRow, string][] = [
  ["earned", "earned"],
  ["spent", "spent"],
  ["adjusted", "adjusted"],
  ["spend_reversed", "spend reversed"],
  ["earn_reversed", "earn reversed"],
  ["expired", "expired"],
];
const DEFAULT_PERIOD_DAYS = 29;

/** The payer report (contract section 7): admin sees all payers, a partner its own row. */
export function ReportsPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const from = query.get("from") ?? daysAgoUtc(DEFAULT_PERIOD_DAYS);
  const to = query.get("to") ?? todayUtc();
  const [fromText, setFrom] = useState(from);
  const [toText, setTo] = useState(to);
  const path = withQuery("/v1/reports/payers", { from, to });
  const report = useLoad(() => json<PayerReport>(session.token, path), [session.token, path]);
  return (
    <>
      <PageHeading>Reports</PageHeading>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(withQuery("reports", { from: fromText, to: toText }));
        }}
      >
        <label for="report-from">From (UTC day)</label>
        <input
          id="report-from"
          type="date"
          required
          value={fromText}
          onInput={(e) => setFrom(e.currentTarget.value)}
        />
        <label for="report-to">To (UTC day, inclusive)</label>
        <input
          id="report-to"
          type="date"
          required
          value={toText}
          onInput={(e) => setTo(e.currentTarget.value)}
        />
        <button type="submit">Show report</button>
      </form>
      <Section title="Payer report" loaded={report}>
        {(r) => (
          <>
            <p>
              {r.from} to {r.to} (UTC days).{" "}
              <CsvDownload token={session.token} path={path} from={r.from} to={r.to} />
            </p>
            <ReportTable rows={r.payers} />
            <Daily token={session.token} payers={r.payers.map((p) => p.payer)} from={r.from} to={r.to} />
          </>
        )}
      </Section>
    </>
  );
}

function ReportTable({ rows }: { rows: ReportRow[] }) {
  if (rows.length === 0) return <p>No payer has had points yet.</p>;
  return (
    <div class="scroll">
      <table>
        <TableHead columns={["Payer", ...COLUMNS.map(([, label]) => ({ label, num: true }))]} />
        <tbody>
          {rows.map((row) => (
            <tr key={row.payer}>
              <th scope="row">{row.payer}</th>
              {COLUMNS.map(([k]) => (
                <td class="num" key={k}>
                  {formatPoints(row[k])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The same report as CSV (Accept: text/csv), saved as a file: the token never goes into a URL. */
function CsvDownload({ token, path, from, to }: { token: string; path: string; from: string; to: string }) {
  const action = useAction();
  const download = async () => {
    const blob = await action.run(async () => (await call(token, path, { accept: "text/csv" })).blob());
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `payer-report-${from}-${to}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <>
      <button type="button" onClick={download} disabled={action.busy}>
        Download CSV
      </button>
      <ErrorMessage message={action.error} />
    </>
  );
}

function Daily({ token, payers, from, to }: { token: string; payers: string[]; from: string; to: string }) {
  const [payer, setPayer] = useState(payers[0] ?? "");
  useEffect(() => {
    if (!payers.includes(payer)) setPayer(payers[0] ?? "");
  }, [payers.join(","), payer]);
  const daily = useLoad(
    () =>
      payer
        ? json<DailyRow[]>(token, withQuery(`/v1/reports/payers/${enc(payer)}/daily`, { from, to }))
        : Promise.resolve([] as DailyRow[]),
    [token, payer, from, to],
  );
  if (payers.length === 0) return null;
  return (
    <Section title="Movements per day" loaded={daily}>
      {(days) => (
        <>
          <form class="inline" onSubmit={(e) => e.preventDefault()}>
            <label for="daily-payer">Payer</label>
            <select id="daily-payer" value={payer} onChange={(e) => setPayer(e.currentTarget.value)}>
              {payers.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </form>
          {days.length === 0 ? (
            <p>No movements in this period.</p>
          ) : (
            <>
              <DailyLines
                caption={`${payer}: points moved per UTC day`}
                days={days.map((d) => d.day)}
                series={MOVEMENTS.map(([k, label]) => ({ label, values: days.map((d) => Number(d[k])) }))}
              />
              <details>
                <summary>Movements per day as a table</summary>
                <DailyTable days={days} />
              </details>
            </>
          )}
        </>
      )}
    </Section>
  );
}

function DailyTable({ days }: { days: DailyRow[] }) {
  return (
    <table>
      <TableHead
        columns={[
          "Day (UTC)",
          ...MOVEMENTS.map(([, label]) => ({ label, num: true })),
          { label: "closing", num: true },
        ]}
      />
      <tbody>
        {days.map((d) => (
          <tr key={d.day}>
            <th scope="row">{d.day}</th>
            {MOVEMENTS.map(([k]) => (
              <td class="num" key={k}>
                {formatPoints(d[k])}
              </td>
            ))}
            <td class="num">{formatPoints(d.closing)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
