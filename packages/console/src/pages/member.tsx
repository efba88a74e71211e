import { useState } from "preact/hooks";
import { enc, json, type Session } from "../api";
import { PayerBars } from "../chart";
import { formatPoints } from "../format";
import { ErrorMessage, Link, Num, PageHeading, Section, useAction, useLoad, When } from "../ui";
import { EntriesSection } from "./member-entries";

interface Member {
  loyalty_id: string;
  client_name: string;
  cardno?: string | null;
  client_birthday: string;
  discount?: string | null;
}
interface Expiring {
  payer: string;
  points: number;
  expires_at: string;
}
interface Hold {
  hold_id: string;
  points: number;
  status: string;
  allocations?: { payer: string; points: number }[];
  expires_at: string;
  created_on: number | string;
}

/** One member as support staff see it: where the points are, per payer, and how they got there. */
export function MemberPage({ session, userId }: { session: Session; userId: string }) {
  // Bumped after every change made here, so every section reads again.
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  const { token } = session;
  const base = `/v1/users/${enc(userId)}`;
  const member = useLoad(() => json<Member>(token, `/v1/members/${enc(userId)}`), [token, userId]);
  const holds = useLoad(() => json<Hold[]>(token, `${base}/holds?status=held`), [token, userId, version]);
  return (
    <>
      <p>
        <Link to="members">← Members</Link>
      </p>
      <PageHeading>Member {userId}</PageHeading>
      <Section title="Details" loaded={member}>
        {(m) => (
          <dl class="details">
            <dt>Name</dt>
            <dd>{m.client_name}</dd>
            <dt>Card</dt>
            <dd>{m.cardno ?? "—"}</dd>
            <dt>Birthday</dt>
            <dd>{m.client_birthday}</dd>
          </dl>
        )}
      </Section>
      {session.role === "admin" ? (
        <AdminSections token={token} userId={userId} version={version} changed={changed} />
      ) : (
        <PartnerWallet token={token} userId={userId} version={version} />
      )}
      <Section title="Open holds" loaded={holds}>
        {(rows) => <HoldsTable rows={rows} />}
      </Section>
    </>
  );
}

function AdminSections(props: { token: string; userId: string; version: number; changed: () => void }) {
  const { token, userId, version } = props;
  const base = `/v1/users/${enc(userId)}`;
  const balance = useLoad(
    () => json<Record<string, number>>(token, `${base}/balance`),
    [token, userId, version],
  );
  const expiring = useLoad(() => json<Expiring[]>(token, `${base}/expiring`), [token, userId, version]);
  return (
    <>
      <Section title="Balance per payer" loaded={balance}>
        {(b) => <BalanceView balance={b} />}
      </Section>
      <Section title="Expiring points (next 30 days)" loaded={expiring}>
        {(rows) =>
          rows.length === 0 ? (
            <p>No points expire in the next 30 days.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Payer</th>
                  <th scope="col" class="num">
                    Points
                  </th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={`${r.payer}-${r.expires_at}`}>
                    <td>{r.payer}</td>
                    <td class="num">{formatPoints(r.points)}</td>
                    <td>
                      <When value={r.expires_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Section>
      <div class="forms">
        <EarnForm token={token} userId={userId} changed={props.changed} />
        <SpendForm token={token} userId={userId} changed={props.changed} />
      </div>
      <EntriesSection token={token} userId={userId} version={version} changed={props.changed} />
    </>
  );
}

function BalanceView({ balance }: { balance: Record<string, number> }) {
  const rows = Object.entries(balance).map(([payer, points]) => ({ payer, points }));
  const total = rows.reduce((n, r) => n + r.points, 0);
  if (rows.length === 0) return <p>No points yet.</p>;
  return (
    <div class="split">
      <table>
        <caption class="visually-hidden">Balance per payer</caption>
        <thead>
          <tr>
            <th scope="col">Payer</th>
            <th scope="col" class="num">
              Points
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.payer}>
              <td>{r.payer}</td>
              <td class="num">{formatPoints(r.points)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">Total</th>
            <td class="num">{formatPoints(total)}</td>
          </tr>
        </tfoot>
      </table>
      <PayerBars rows={rows} caption="Points per payer" />
    </div>
  );
}

function HoldsTable({ rows }: { rows: Hold[] }) {
  if (rows.length === 0) return <p>No open holds.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Hold</th>
          <th scope="col" class="num">
            Points
          </th>
          <th scope="col">From payers</th>
          <th scope="col">Expires</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((h) => (
          <tr key={h.hold_id}>
            <td>
              <code>{h.hold_id}</code>
            </td>
            <td class="num">{formatPoints(h.points)}</td>
            <td>{(h.allocations ?? []).map((a) => `${a.payer} ${formatPoints(a.points)}`).join(", ")}</td>
            <td>
              <When value={h.expires_at} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What a partner may see of a member's points: the total of the entries it created itself. */
function PartnerWallet({ token, userId, version }: { token: string; userId: string; version: number }) {
  const wallet = useLoad(
    () => json<{ user_id: string; total: number }[]>(token, `/v1/wallets?user_ids=${enc(userId)}`),
    [token, userId, version],
  );
  return (
    <Section title="Your entries' total" loaded={wallet}>
      {(rows) => (
        <p>
          Points from entries your token created: <Num value={rows[0]?.total ?? 0} />. Balances per payer and
          other partners' entries are visible to the admin only.
        </p>
      )}
    </Section>
  );
}

function EarnForm({ token, userId, changed }: { token: string; userId: string; changed: () => void }) {
  const [payer, setPayer] = useState("");
  const [points, setPoints] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    setDone(null);
    const body = { payer: payer.trim(), points: Number(points), timestamp: new Date().toISOString() };
    const r = await action.run(() =>
      json<{ entry_id: string }>(token, `/v1/users/${enc(userId)}/transactions`, {
        method: "POST",
        body,
        idempotent: true,
      }),
    );
    if (r) {
      setDone(`Added ${formatPoints(body.points)} points from ${body.payer}.`);
      setPoints("");
      changed();
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="earn-title" class="card">
      <h2 id="earn-title">Earn</h2>
      <label for="earn-payer">Payer</label>
      <input id="earn-payer" required value={payer} onInput={(e) => setPayer(e.currentTarget.value)} />
      <label for="earn-points">Points to add</label>
      <input
        id="earn-points"
        required
        inputMode="numeric"
        pattern="-?[0-9]+"
        value={points}
        onInput={(e) => setPoints(e.currentTarget.value)}
      />
      <button type="submit" disabled={action.busy}>
        Add points
      </button>
      <ErrorMessage message={action.error} />
      {done && <p role="status">{done}</p>}
    </form>
  );
}

function SpendForm({ token, userId, changed }: { token: string; userId: string; changed: () => void }) {
  const [points, setPoints] = useState("");
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    setDone(null);
    const body = { points: Number(points), ...(reason.trim() ? { reason: reason.trim() } : {}) };
    const taken = await action.run(() =>
      json<{ payer: string; points: number }[]>(token, `/v1/users/${enc(userId)}/spend`, {
        method: "POST",
        body,
        idempotent: true,
      }),
    );
    if (taken) {
      setDone(`Spent: ${taken.map((t) => `${t.payer} ${formatPoints(t.points)}`).join(", ")}.`);
      setPoints("");
      changed();
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="spend-title" class="card">
      <h2 id="spend-title">Spend</h2>
      <label for="spend-points">Points to spend</label>
      <input
        id="spend-points"
        required
        inputMode="numeric"
        pattern="[0-9]+"
        value={points}
        onInput={(e) => setPoints(e.currentTarget.value)}
      />
      <label for="spend-reason">Reason</label>
      <input id="spend-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      <button type="submit" disabled={action.busy}>
        Spend points
      </button>
      <ErrorMessage message={action.error} />
      {done && <p role="status">{done}</p>}
    </form>
  );
}
