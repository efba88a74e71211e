import { useState } from "preact/hooks";
import { enc, json, type Session } from "../api";
import {
  ErrorMessage,
  Field,
  PageHeading,
  Section,
  SubmitRow,
  TableHead,
  useAction,
  useLoad,
  When,
} from "../ui";

interface Partner {
  id: string;
  name: string;
  created_at?: string;
  points_validity_days?: number | null;
}

/** Partners (admin): list, create, rotate a token (shown once), and points validity (PATCH). */
export function PartnersPage({ session }: { session: Session }) {
  const { token } = session;
  const [version, setVersion] = useState(0);
  const [secret, setSecret] = useState<{ title: string; lines: [string, string][] } | null>(null);
  // GET /v1/partners is a page ({count, next, previous, results}); the largest page lists them all.
  const partners = useLoad(
    async () => (await json<{ results: Partner[] }>(token, "/v1/partners?page_size=1000")).results,
    [token, version],
  );
  const reload = () => setVersion((v) => v + 1);
  // Which row's validity was just saved: kept here, because the reload re-creates the rows.
  const [savedId, setSavedId] = useState<string | null>(null);
  return (
    <>
      <PageHeading>Partners</PageHeading>
      {secret && <ShownOnce {...secret} dismiss={() => setSecret(null)} />}
      <CreatePartner
        token={token}
        created={(p) => {
          setSecret({
            title: `Partner ${p.id} created`,
            lines: [
              ["Token", p.token],
              ["Signing secret", p.signing_secret],
            ],
          });
          reload();
        }}
      />
      <Section title="All partners" loaded={partners}>
        {(rows) => (
          <table>
            <TableHead columns={["Id", "Name", "Created", "Points validity", "Token"]} />
            <tbody>
              {rows.map((p) => (
                <tr key={p.id}>
                  <td>{p.id}</td>
                  <td>{p.name}</td>
                  <td>
                    <When value={p.created_at} />
                  </td>
                  <td>
                    <Validity
                      token={token}
                      partner={p}
                      justSaved={savedId === p.id}
                      saved={() => {
                        setSavedId(p.id);
                        reload();
                      }}
                    />
                  </td>
                  <td>
                    <Rotate
                      token={token}
                      id={p.id}
                      rotated={(t) => setSecret({ title: `New token for ${p.id}`, lines: [["Token", t]] })}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function ShownOnce(props: { title: string; lines: [string, string][]; dismiss: () => void }) {
  return (
    <section class="shown-once" role="status" aria-labelledby="shown-once-title">
      <h2 id="shown-once-title">{props.title}</h2>
      <p>Copy it now: it is shown only once and cannot be read again.</p>
      <dl>
        {props.lines.map(([k, v]) => (
          <>
            <dt key={`${k}-t`}>{k}</dt>
            <dd key={`${k}-d`}>
              <code class="secret">{v}</code>
            </dd>
          </>
        ))}
      </dl>
      <button type="button" onClick={props.dismiss}>
        Done
      </button>
    </section>
  );
}

function CreatePartner(props: {
  token: string;
  created: (p: { id: string; token: string; signing_secret: string }) => void;
}) {
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = {
      id: id.trim(),
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(days.trim() ? { points_validity_days: Number(days) } : {}),
    };
    const p = await action.run(() =>
      json<{ id: string; token: string; signing_secret: string }>(props.token, "/v1/partners", {
        method: "POST",
        body,
      }),
    );
    if (p) {
      setId("");
      setName("");
      setDays("");
      props.created(p);
    }
  };
  return (
    <form onSubmit={submit} class="card" aria-labelledby="create-partner-title">
      <h2 id="create-partner-title">Create a partner</h2>
      <Field id="partner-id" label="Partner id" required maxLength={100} value={id} set={setId} />
      <Field id="partner-name" label="Name" maxLength={200} value={name} set={setName} />
      <Field
        id="partner-days"
        label="Points validity (days, empty: never expire)"
        digits="[0-9]+"
        value={days}
        set={setDays}
      />
      <SubmitRow label="Create partner" action={action} />
    </form>
  );
}

function Rotate({ token, id, rotated }: { token: string; id: string; rotated: (token: string) => void }) {
  const action = useAction();
  const rotate = async () => {
    if (!window.confirm(`Rotate the token of ${id}? Its current token stops working at once.`)) return;
    const r = await action.run(() =>
      json<{ token: string }>(token, `/v1/partners/${enc(id)}/tokens`, { method: "POST" }),
    );
    if (r) rotated(r.token);
  };
  return (
    <>
      <button type="button" onClick={rotate} disabled={action.busy} aria-label={`Rotate the token of ${id}`}>
        Rotate token
      </button>
      <ErrorMessage message={action.error} />
    </>
  );
}

function Validity({
  token,
  partner,
  justSaved,
  saved,
}: {
  token: string;
  partner: Partner;
  justSaved: boolean;
  saved: () => void;
}) {
  const [days, setDays] = useState(
    partner.points_validity_days === undefined || partner.points_validity_days === null
      ? ""
      : String(partner.points_validity_days),
  );
  const action = useAction();
  const [done, setDone] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setDone(false);
    const body = { points_validity_days: days.trim() ? Number(days) : null };
    const r = await action.run(() =>
      json<Partner>(token, `/v1/partners/${enc(partner.id)}`, { method: "PATCH", body }),
    );
    if (r) {
      setDone(true);
      saved();
    }
  };
  const inputId = `validity-${partner.id}`;
  return (
    <form onSubmit={submit} class="inline">
      <label for={inputId} class="visually-hidden">
        Points validity of {partner.id} in days
      </label>
      <input
        id={inputId}
        size={6}
        inputMode="numeric"
        pattern="[0-9]+"
        placeholder="never"
        value={days}
        onInput={(e) => setDays(e.currentTarget.value)}
      />
      <span aria-hidden="true"> days </span>
      <button type="submit" disabled={action.busy} aria-label={`Set the points validity of ${partner.id}`}>
        Set
      </button>
      {(done || justSaved) && <span role="status"> saved</span>}
      <ErrorMessage message={action.error} />
    </form>
  );
}
