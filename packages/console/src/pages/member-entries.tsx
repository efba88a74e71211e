import { useState } from "preact/hooks";
import { enc, json } from "../api";
import { formatPoints } from "../format";
import { Field, Section, SubmitRow, TableHead, useAction, useLoad, When } from "../ui";

export interface Entry {
  entry_id: string;
  type?: string;
  authority_id: string;
  created_on: number;
  amount: number;
  reason?: string | null;
  payer?: string;
  timestamp?: string;
  expires_at?: string | null;
  allocations?: { payer: string; points: number }[];
  reversed?: number;
  reverses?: string;
  hold_id?: string;
  item?: { name: string; used: boolean } | null;
}
interface EntryPage {
  count: number;
  next: string | null;
  previous: string | null;
  results: Entry[];
}

const PAGE_SIZE = 20;

/** Spends (also captures and negative wallet entries) and earns can be reversed (contract 6.2). */
export function reversibleLeft(e: Entry): number {
  const kind = e.type ?? (e.amount < 0 ? "spend" : "earn");
  if (kind !== "spend" && kind !== "earn") return 0;
  return Math.max(0, Math.abs(e.amount) - (e.reversed ?? 0));
}

export function EntriesSection(props: {
  token: string;
  userId: string;
  version: number;
  changed: () => void;
}) {
  const { token, userId, version } = props;
  const [page, setPage] = useState(1);
  const [notice, setNotice] = useState<string | null>(null);
  const entries = useLoad(
    () => json<EntryPage>(token, `/v1/users/${enc(userId)}/entries?page=${page}&page_size=${PAGE_SIZE}`),
    [token, userId, version, page],
  );
  return (
    <Section title="Entries" loaded={entries}>
      {(data) => (
        <>
          {notice && (
            <p role="status" class="notice">
              {notice}
            </p>
          )}
          {data.results.length === 0 ? (
            <p>No entries yet.</p>
          ) : (
            <table class="entries">
              <TableHead
                columns={[
                  "When",
                  "Type",
                  { label: "Points", num: true },
                  "Payers",
                  "By",
                  "Reason",
                  { label: <span class="visually-hidden">Actions</span>, num: false },
                ]}
              />
              <tbody>
                {data.results.map((e) => (
                  <EntryRow
                    key={e.entry_id}
                    entry={e}
                    token={token}
                    userId={userId}
                    reversed={(message) => {
                      setNotice(message);
                      props.changed();
                    }}
                  />
                ))}
              </tbody>
            </table>
          )}
          <nav aria-label="Entry pages" class="pager">
            <button type="button" disabled={!data.previous} onClick={() => setPage(page - 1)}>
              Newer entries
            </button>
            <button type="button" disabled={!data.next} onClick={() => setPage(page + 1)}>
              Older entries
            </button>
          </nav>
        </>
      )}
    </Section>
  );
}

function EntryRow(props: {
  entry: Entry;
  token: string;
  userId: string;
  reversed: (message: string) => void;
}) {
  const { entry: e } = props;
  const [open, setOpen] = useState(false);
  const left = reversibleLeft(e);
  const payers = e.allocations?.length
    ? e.allocations.map((a) => `${a.payer} ${formatPoints(a.points)}`).join(", ")
    : (e.payer ?? "");
  return (
    <>
      <tr>
        <td>
          <When value={e.created_on} />
        </td>
        <td>
          {e.type ?? (e.amount < 0 ? "spend" : "earn")}
          {e.reverses && <span class="muted"> of {e.reverses.slice(0, 8)}</span>}
        </td>
        <td class="num">{formatPoints(e.amount)}</td>
        <td>
          {payers}
          {e.reversed ? <span class="muted"> ({formatPoints(e.reversed)} reversed)</span> : null}
        </td>
        <td>{e.authority_id}</td>
        <td>{e.reason ?? ""}</td>
        <td>
          {left > 0 && (
            <button
              type="button"
              aria-expanded={open}
              aria-label={`Reverse ${e.type ?? "entry"} of ${formatPoints(e.amount)} points`}
              onClick={() => setOpen(!open)}
            >
              Reverse
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr class="reverse-row">
          <td colSpan={7}>
            <ReverseForm {...props} left={left} close={() => setOpen(false)} />
          </td>
        </tr>
      )}
    </>
  );
}

function ReverseForm(props: {
  entry: Entry;
  token: string;
  userId: string;
  left: number;
  close: () => void;
  reversed: (message: string) => void;
}) {
  const [points, setPoints] = useState("");
  const [reason, setReason] = useState("");
  const action = useAction();
  const id = props.entry.entry_id;
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = {
      ...(points.trim() ? { points: Number(points) } : {}),
      ...(reason.trim() ? { reason: reason.trim() } : {}),
    };
    const r = await action.run(() =>
      json<Entry>(props.token, `/v1/users/${enc(props.userId)}/entries/${enc(id)}/reversals`, {
        method: "POST",
        body,
        idempotent: true,
      }),
    );
    if (r) {
      props.close();
      props.reversed(`Reversed ${formatPoints(Math.abs(r.amount))} points of entry ${id}.`);
    }
  };
  return (
    <form onSubmit={submit} class="inline" aria-label={`Reverse entry ${id}`}>
      <Field
        id={`rev-points-${id}`}
        label="Points to reverse"
        digits="[0-9]+"
        placeholder={`all ${formatPoints(props.left)}`}
        value={points}
        set={setPoints}
      />
      <Field id={`rev-reason-${id}`} label="Reason" value={reason} set={setReason} />
      <SubmitRow label="Confirm reversal" action={action}>
        <button type="button" onClick={props.close}>
          Cancel
        </button>
      </SubmitRow>
    </form>
  );
}
