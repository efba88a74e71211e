import { useState } from "preact/hooks";
import { enc, json, type Session } from "../api";
import { formatPoints } from "../format";
import { navigate, withQuery } from "../router";
import { Link, PageHeading, Section, TableHead, useLoad } from "../ui";

interface Member {
  loyalty_id: string;
  client_name: string;
  cardno?: string | null;
  client_birthday: string;
}
interface MemberPage {
  count: number;
  next: string | null;
  previous: string | null;
  results: Member[];
}

const PAGE_SIZE = 25;

export function MembersPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const search = query.get("search") ?? "";
  const page = Math.max(1, Number(query.get("page") ?? 1) || 1);
  return (
    <>
      <PageHeading>Members</PageHeading>
      {session.role === "admin" ? (
        <MemberList token={session.token} search={search} page={page} />
      ) : (
        <p>Partners cannot list members: open a member by loyalty id.</p>
      )}
      <OpenMember />
    </>
  );
}

function MemberList({ token, search, page }: { token: string; search: string; page: number }) {
  const [text, setText] = useState(search);
  const loaded = useLoad(
    () =>
      json<MemberPage>(
        token,
        withQuery("/v1/members", { search, page, page_size: PAGE_SIZE, ordering: "loyalty_id" }),
      ),
    [token, search, page],
  );
  const go = (p: number, s = search) =>
    navigate(withQuery("members", { search: s, page: p > 1 ? p : undefined }));
  return (
    <>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          go(1, text.trim());
        }}
      >
        <label for="member-search">Search</label>
        <input
          id="member-search"
          type="search"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          aria-describedby="member-search-help"
        />
        <button type="submit">Search</button>
        <p id="member-search-help" class="help">
          Part of a name or card number.
        </p>
      </form>
      <Section title="Results" loaded={loaded}>
        {(data) => (
          <>
            <p aria-live="polite">
              {formatPoints(data.count)} member{data.count === 1 ? "" : "s"}
              {search ? ` matching “${search}”` : ""}, page {formatPoints(page)} of{" "}
              {formatPoints(Math.max(1, Math.ceil(data.count / PAGE_SIZE)))}
            </p>
            <table>
              <TableHead columns={["Loyalty id", "Name", "Card", "Birthday"]} />
              <tbody>
                {data.results.map((m) => (
                  <tr key={m.loyalty_id}>
                    <td>
                      <Link to={`members/${enc(m.loyalty_id)}`}>{m.loyalty_id}</Link>
                    </td>
                    <td>{m.client_name}</td>
                    <td>{m.cardno ?? ""}</td>
                    <td>{m.client_birthday}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <nav aria-label="Result pages" class="pager">
              <button type="button" disabled={!data.previous} onClick={() => go(page - 1)}>
                Previous page
              </button>
              <button type="button" disabled={!data.next} onClick={() => go(page + 1)}>
                Next page
              </button>
            </nav>
          </>
        )}
      </Section>
    </>
  );
}

function OpenMember() {
  const [id, setId] = useState("");
  return (
    <section aria-labelledby="open-member-title">
      <h2 id="open-member-title">Open a member</h2>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (id.trim()) navigate(`members/${enc(id.trim())}`);
        }}
      >
        <label for="open-member">Loyalty id</label>
        <input id="open-member" value={id} onInput={(e) => setId(e.currentTarget.value)} />
        <button type="submit">Open member</button>
      </form>
    </section>
  );
}
