// Operator comfort for `npm start` (dev-stack.ts): readable logs on a terminal, and a clear answer
// when a stack already runs instead of a crash on a taken port.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { prettyFactory } from "pino-pretty";

/**
 * Services log JSON (one object a line, for log shippers). On a terminal that is hard to read, so
 * when stdout is a TTY each line is rendered by pino-pretty (time, level, message, then fields);
 * piped or redirected output stays JSON. Lines that are not JSON pass through untouched.
 */
export function logLineFormatter(tty = Boolean(process.stdout.isTTY)): (line: string) => string {
  if (!tty) return (line) => line;
  const pretty = prettyFactory({
    colorize: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,name",
    singleLine: true,
  });
  return (line) => {
    if (!line.startsWith("{")) return line;
    try {
      return pretty(JSON.parse(line)).trimEnd();
    } catch {
      return line;
    }
  };
}

/** What a running `npm start` writes down, so a second one can say where it is. */
interface RunningStack {
  pid: number;
  url: string;
  started_at: string;
}

const stackFile = (cache: string) => join(cache, "dev-stack.json");

export function recordRunningStack(cache: string, url: string): void {
  const info: RunningStack = { pid: process.pid, url, started_at: new Date().toISOString() };
  mkdirSync(cache, { recursive: true });
  writeFileSync(stackFile(cache), `${JSON.stringify(info, null, 2)}\n`);
}

export function forgetRunningStack(cache: string): void {
  const file = stackFile(cache);
  if (!existsSync(file)) return;
  try {
    if ((JSON.parse(readFileSync(file, "utf8")) as RunningStack).pid === process.pid) rmSync(file);
  } catch {
    rmSync(file, { force: true });
  }
}

/**
 * null when `port` is free; otherwise a message for the operator: where the running stack is (its
 * gateway answers /health there), or that another program holds the port.
 */
export async function portTakenMessage(cache: string, port: number): Promise<string | null> {
  const url = `http://127.0.0.1:${port}`;
  // One npm start per checkout: a second one would also collide on the services' metrics ports.
  // (A pid alone could be reused after a crash: its gateway must answer too.)
  const owner = runningOwner(cache);
  if (owner && (await answersHealth(owner.url))) return alreadyRunning(owner.url, owner);
  if (await portIsFree(port)) return null;
  if (!(await answersHealth(url))) {
    return `port ${port} is in use by another program: stop it, or start on another port (PORT=${port + 1} npm start)`;
  }
  return alreadyRunning(url, null);
}

/** Our gateway answers /health with a JSON status (200 or 503): another program does not. */
function answersHealth(url: string): Promise<boolean> {
  return fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).then(
    async (r) => ((await r.json().catch(() => null)) as { status?: string } | null)?.status !== undefined,
    () => false,
  );
}

function alreadyRunning(url: string, owner: RunningStack | null): string {
  return [
    `a points ledger stack is already running at ${url}${owner ? ` (npm start, pid ${owner.pid}, since ${owner.started_at})` : ""}:`,
    `    API      ${url}`,
    `    Console  ${url}/console/`,
    `    Docs     ${url}/docs`,
    `  use it, or stop it first (Ctrl-C in its terminal${owner ? `, or kill ${owner.pid}` : ""}).`,
  ].join("\n");
}

function runningOwner(cache: string): RunningStack | null {
  try {
    const info = JSON.parse(readFileSync(stackFile(cache), "utf8")) as RunningStack;
    return info.pid !== process.pid && processAlive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port, host: "0.0.0.0", exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
