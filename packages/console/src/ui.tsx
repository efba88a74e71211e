import type { ComponentChildren, TargetedMouseEvent } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import { formatDate, formatPoints } from "./format";
import { BASE, navigate } from "./router";

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` whenever `deps` change; keeps the API's error message for display. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | null; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  // The caller names what the load depends on.
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (err) => live && setState({ data: undefined, error: messageOf(err), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

export function ErrorMessage({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** A section that shows its data, its loading state or the API's error message. */
export function Section<T>(props: {
  title: string;
  loaded: Loaded<T>;
  children: (data: T) => ComponentChildren;
  id?: string;
}) {
  const { loaded } = props;
  return (
    <section aria-labelledby={props.id ?? slug(props.title)}>
      <h2 id={props.id ?? slug(props.title)}>{props.title}</h2>
      {loaded.loading && <p aria-live="polite">Loading…</p>}
      <ErrorMessage message={loaded.error} />
      {!loaded.loading && loaded.data !== undefined && props.children(loaded.data)}
    </section>
  );
}

export const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-");

export function Num({ value }: { value: number | string | null | undefined }) {
  return <span class="num">{formatPoints(value)}</span>;
}

export function When({ value }: { value: string | number | null | undefined }) {
  const { local, utc } = formatDate(value);
  if (!local) return <span>never</span>;
  const iso = typeof value === "number" ? new Date(value * 1000).toISOString() : String(value);
  return (
    <time dateTime={iso} title={utc}>
      {local}
    </time>
  );
}

/** An in-app link: a real href (open in a new tab works), handled without a reload. */
export function Link(props: { to: string; children: ComponentChildren; class?: string }) {
  const onClick = (e: TargetedMouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a href={`${BASE}${props.to}`} onClick={onClick} class={props.class}>
      {props.children}
    </a>
  );
}

/** Moves focus to the page heading when a page opens, so keyboard and screen reader users land on it. */
export function PageHeading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

/** Runs an action, remembering its error message and whether it runs. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (err) {
      setError(messageOf(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

/** A labelled input bound to a string state: the one shape of every form field in the console. */
export function Field(props: {
  id: string;
  label: string;
  value: string;
  set: (value: string) => void;
  required?: boolean;
  /** A whole-number field: the numeric keyboard, and this pattern ("[0-9]+" or "-?[0-9]+"). */
  digits?: string;
  maxLength?: number;
  placeholder?: string;
}) {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        required={props.required}
        inputMode={props.digits ? "numeric" : undefined}
        pattern={props.digits}
        maxLength={props.maxLength}
        placeholder={props.placeholder}
        value={props.value}
        onInput={(e) => props.set(e.currentTarget.value)}
      />
    </>
  );
}

/** A form's end: its submit button (off while the action runs), the action's error, what it did. */
export function SubmitRow(props: {
  label: string;
  action: { busy: boolean; error: string | null };
  done?: string | null;
  children?: ComponentChildren;
}) {
  return (
    <>
      <button type="submit" disabled={props.action.busy}>
        {props.label}
      </button>
      {props.children}
      <ErrorMessage message={props.action.error} />
      {props.done && <p role="status">{props.done}</p>}
    </>
  );
}

/** A table's header row; numeric columns are right-aligned like their cells. */
export function TableHead({ columns }: { columns: (string | { label: ComponentChildren; num: boolean })[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) =>
          typeof c === "string" ? (
            <th scope="col" key={c}>
              {c}
            </th>
          ) : (
            <th scope="col" class={c.num ? "num" : undefined} key={i}>
              {c.label}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}
