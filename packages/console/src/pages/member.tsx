import { useState } from "preact/hooks";
import { enc, json, type Session } from "../api";
import { PayerBars } from "../chart";
import { formatPoints } from "../format";
import {
  Field,
  Link,
  Num,
  PageHeading,
  Section,
  SubmitRow,
  TableHead,
  useAction,
  useLoad,
  When,
} from "../ui";
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
              <TableHead columns={["Payer", { label: "Points", num: true }, "Expires"]} />
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
        <TableHead columns={["Payer", { label: "Points", num: true }]} />
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
      <TableHead columns={["Hold", { label: "Points", num: true }, "From payers", "Expires"]} />
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

/**
 * A points form (earn, spend): posts once (idempotent, so a retry cannot apply twice), then says
 * what was done, clears the points and refreshes the page's figures.
 */
function usePointsForm(changed: () => void) {
  const [points, setPoints] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();
  const post = async <T,>(e: Event, token: string, path: string, body: object, said: (r: T) => string) => {
    e.preventDefault();
    setDone(null);
    const r = await action.run(() => json<T>(token, path, { method: "POST", body, idempotent: true }));
    if (r) {
      setDone(said(r));
      setPoints("");
      changed();
    }
  };
  return { points, setPoints, done, action, post };
}

function EarnForm({ token, userId, changed }: { token: string; userId: string; changed: () => void }) {
  const [payer, setPayer] = useState("");
  const { points, setPoints, done, action, post } = usePointsForm(changed);
  const submit = (e: Event) => {
    const body = { payer: payer.trim(), points: Number(points), timestamp: new Date().toISOString() };
    return post(
      e,
      token,
      `/v1/users/${enc(userId)}/transactions`,
      body,
      () => `Added ${formatPoints(body.points)} points from ${body.payer}.`,
    );
  };
  return (
    <form onSubmit={submit} aria-labelledby="earn-title" class="card">
      <h2 id="earn-title">Earn</h2>
      <Field id="earn-payer" label="Payer" required value={payer} set={setPayer} />
      <Field
        id="earn-points"
        label="Points to add"
        required
        digits="-?[0-9]+"
        value={points}
        set={setPoints}
      />
      <SubmitRow label="Add points" action={action} done={done} />
    </form>
  );
}

function SpendForm({ token, userId, changed }: { token: string; userId: string; changed: () => void }) {
  const [reason, setReason] = useState("");
  const { points, setPoints, done, action, post } = usePointsForm(changed);
  const submit = (e: Event) => {
    const body = { points: Number(points), ...(reason.trim() ? { reason: reason.trim() } : {}) };
    return post<{ payer: string; points: number }[]>(
      e,
      token,
      `/v1/users/${enc(userId)}/spend`,
      body,
      (taken) => `Spent: ${taken.map((t) => `${t.payer} ${formatPoints(t.points)}`).join(", ")}.`,
    );
  };
  return (
    <form onSubmit={submit} aria-labelledby="spend-title" class="card">
      <h2 id="spend-title">Spend</h2>
      <Field
        id="spend-points"
        label="Points to spend"
        required
        digits="[0-9]+"
        value={points}
        set={setPoints}
      />
      <Field id="spend-reason" label="Reason" value={reason} set={setReason} />
      <SubmitRow label="Spend points" action={action} done={done} />
    </form>
  );
}
