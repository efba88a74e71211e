import { useState } from "preact/hooks";
import { enc, json, type Session } from "../api";
import { navigate, withQuery } from "../router";
import { PageHeading, Section, useLoad } from "../ui";

interface Command {
  id: string;
  status: string;
  response?: { status: number; body: unknown };
}

/** Commands: the outcome of a command answered with 202 (the Location header's id). */
export function CommandsPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const id = query.get("id") ?? "";
  const [text, setText] = useState(id);
  return (
    <>
      <PageHeading>Commands</PageHeading>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(withQuery("commands", { id: text.trim() }));
        }}
      >
        <label for="command-id">Command id</label>
        <input id="command-id" required value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <button type="submit">Look up</button>
      </form>
      {id && <CommandView token={session.token} id={id} />}
    </>
  );
}

function CommandView({ token, id }: { token: string; id: string }) {
  const loaded = useLoad(() => json<Command>(token, `/v1/commands/${enc(id)}`), [token, id]);
  return (
    <Section title={`Command ${id}`} id="command-result" loaded={loaded}>
      {(c) => (
        <>
          <dl class="details">
            <dt>Status</dt>
            <dd>{c.status}</dd>
            {c.response && (
              <>
                <dt>HTTP status</dt>
                <dd>{c.response.status}</dd>
              </>
            )}
          </dl>
          {c.response && (
            <>
              <h3>Response body</h3>
              <pre>{JSON.stringify(c.response.body, null, 2)}</pre>
            </>
          )}
        </>
      )}
    </Section>
  );
}
