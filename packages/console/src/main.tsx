import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { loadSession, type Role, type Session, saveSession, UNAUTHENTICATED_EVENT } from "./api";
import { CommandsPage } from "./pages/commands";
import { DeadLettersPage } from "./pages/dead-letters";
import { MemberPage } from "./pages/member";
import { MembersPage } from "./pages/members";
import { PartnersPage } from "./pages/partners";
import { ReportsPage } from "./pages/reports";
import { SignIn } from "./pages/sign-in";
import { navigate, useLocation } from "./router";
import "./styles.css";
import { Link } from "./ui";

interface NavItem {
  path: string;
  label: string;
  roles: Role[];
}

/** Pages a role may open; admin-only pages are not offered to partners at all. */
const NAV: NavItem[] = [
  { path: "members", label: "Members", roles: ["admin", "partner"] },
  { path: "partners", label: "Partners", roles: ["admin"] },
  { path: "reports", label: "Reports", roles: ["admin", "partner"] },
  { path: "commands", label: "Commands", roles: ["admin", "partner"] },
  { path: "dead-letters", label: "Dead letters", roles: ["admin"] },
];

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const location = useLocation();
  const [notice, setNotice] = useState<string | null>(null);
  const signOut = () => {
    saveSession(null);
    setSession(null);
  };
  useEffect(() => {
    const expired = (e: Event) => {
      if (!loadSession()) return; // a failed sign-in says so itself
      saveSession(null);
      setSession(null);
      setNotice(`Signed out: ${(e as CustomEvent<string>).detail}. Sign in again.`);
    };
    window.addEventListener(UNAUTHENTICATED_EVENT, expired);
    return () => window.removeEventListener(UNAUTHENTICATED_EVENT, expired);
  }, []);
  useEffect(() => {
    if (session && location.path === "") navigate("members", true);
  }, [session, location.path]);
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          saveSession(s);
          setSession(s);
          setNotice(null);
        }}
      />
    );
  }
  const section = location.path.split("/")[0] ?? "";
  const allowed = NAV.find((n) => n.path === section)?.roles.includes(session.role) ?? true;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">Points ledger</span>
        <nav aria-label="Pages">
          <ul>
            {NAV.filter((n) => n.roles.includes(session.role)).map((n) => (
              <li key={n.path}>
                <Link to={n.path} class={section === n.path ? "current" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">Signed in as {session.role}</span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main">{allowed ? page(session, location.path, location.query) : <NotAllowed />}</main>
    </>
  );
}

function page(session: Session, path: string, query: URLSearchParams) {
  const [section, id] = path.split("/");
  switch (section) {
    case "":
    case "members":
      return id ? (
        <MemberPage session={session} userId={decodeURIComponent(id)} />
      ) : (
        <MembersPage session={session} query={query} />
      );
    case "partners":
      return <PartnersPage session={session} />;
    case "reports":
      return <ReportsPage session={session} query={query} />;
    case "commands":
      return <CommandsPage session={session} query={query} />;
    case "dead-letters":
      return <DeadLettersPage session={session} query={query} />;
    default:
      return (
        <>
          <h1>Page not found</h1>
          <p>
            There is no console page <code>{path}</code>. <Link to="members">Go to Members</Link>.
          </p>
        </>
      );
  }
}

function NotAllowed() {
  return (
    <>
      <h1>Not available</h1>
      <p class="error" role="alert">
        Only the admin token may open this page.
      </p>
    </>
  );
}

render(<App />, document.getElementById("app")!);
