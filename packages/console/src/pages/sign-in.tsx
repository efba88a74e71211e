import { useState } from "preact/hooks";
import { roleOf, type Session } from "../api";
import { ErrorMessage, messageOf } from "../ui";

/** Sign in with an admin or partner token; the token stays in this tab's sessionStorage only. */
export function SignIn(props: { notice: string | null; onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const trimmed = token.trim();
    if (!trimmed) return setError("enter a token");
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn({ token: trimmed, role: await roleOf(trimmed) });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>Points ledger console</h1>
      {props.notice && (
        <p role="status" class="notice">
          {props.notice}
        </p>
      )}
      <form onSubmit={submit}>
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="help">
          An admin token, or a partner's token (a partner sees its own data only). Kept in this browser tab
          only.
        </p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorMessage message={error} />
      </form>
    </main>
  );
}
