/**
 * A redis-server of the test's own, on a free port, that the test may kill and restart. The
 * shared Redis (and Postgres and Kafka) of the test run is never stopped: other files use it.
 * No snapshots unless asked (SAVE); a restart loads the directory's dump.rdb if there is one.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

const START_WAIT_MS = 10_000;

export interface PrivateRedis {
  url: string;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** Start again on the same port and directory (loading dump.rdb if SAVE wrote one). */
  restart(): Promise<void>;
  /** A client for checks; the caller disconnects it. */
  client(): Redis;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "points-private-redis-"));
  let child: ChildProcess | null = await launch(port, dir);
  const url = `redis://127.0.0.1:${port}`;
  const kill = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  return {
    url,
    kill,
    restart: async () => {
      await kill();
      child = await launch(port, dir);
    },
    client: () => {
      const redis = new Redis(url, { maxRetriesPerRequest: 1 });
      redis.on("error", () => {});
      return redis;
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    {
      stdio: "ignore",
    },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (err) =>
      reject(new Error(`cannot start redis-server (is it installed?): ${err.message}`)),
    );
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  failed.catch(() => {});
  await Promise.race([answers(port), failed]);
  return child;
}

async function answers(port: number): Promise<void> {
  const deadline = Date.now() + START_WAIT_MS;
  for (;;) {
    const redis = new Redis({
      port,
      host: "127.0.0.1",
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on("error", () => {});
    try {
      await redis.connect();
      if ((await redis.ping()) === "PONG") return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      redis.disconnect();
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
