import { describe, expect, it } from "vitest";
import { coalesce } from "./coalesce";

/** A read whose runs the test finishes by hand, recording what each run was asked. */
function manualReads() {
  const runs: { arg: string; finish: (v: string) => void; fail: (e: Error) => void }[] = [];
  const read = (arg: string) =>
    new Promise<string>((resolve, reject) => {
      runs.push({ arg, finish: resolve, fail: reject });
    });
  return { runs, read };
}

const settled = () => new Promise((r) => setImmediate(r));

describe("coalesce (the payer report's shared reads)", () => {
  it("gives callers that arrive during a read the next read, never the running one", async () => {
    const { runs, read } = manualReads();
    const report = coalesce(read, (a) => a);

    const first = report("2025");
    const second = report("2025");
    const third = report("2025");
    expect(runs).toHaveLength(1);

    runs[0]!.finish("read 1");
    expect(await first).toBe("read 1");
    await settled();
    // The second read starts only once the first ended, and serves both callers that waited.
    expect(runs).toHaveLength(2);
    const fourth = report("2025"); // arrives during read 2: waits for read 3
    runs[1]!.finish("read 2");
    expect(await second).toBe("read 2");
    expect(await third).toBe("read 2");
    await settled();
    expect(runs).toHaveLength(3);
    runs[2]!.finish("read 3");
    expect(await fourth).toBe("read 3");
    await settled();
    expect(report.running()).toBe(0);
  });

  it("runs different keys at once", async () => {
    const { runs, read } = manualReads();
    const report = coalesce(read, (a) => a);
    const a = report("a");
    const b = report("b");
    expect(runs.map((r) => r.arg)).toEqual(["a", "b"]);
    expect(report.running()).toBe(2);
    runs[1]!.finish("B");
    runs[0]!.finish("A");
    expect([await a, await b]).toEqual(["A", "B"]);
    await settled();
    expect(report.running()).toBe(0);
  });

  it("fails only the callers of the failed read; the next read still runs", async () => {
    const { runs, read } = manualReads();
    const report = coalesce(read, (a) => a);
    const first = report("k");
    const second = report("k");
    runs[0]!.fail(new Error("statement timeout"));
    await expect(first).rejects.toThrow("statement timeout");
    await settled();
    expect(runs).toHaveLength(2);
    runs[1]!.finish("fresh");
    expect(await second).toBe("fresh");
    await settled();
    expect(report.running()).toBe(0);
  });

  it("a read that fails for its waiters leaves the key usable", async () => {
    const { runs, read } = manualReads();
    const report = coalesce(read, (a) => a);
    const first = report("k");
    const second = report("k");
    runs[0]!.finish("ok");
    await first;
    await settled();
    runs[1]!.fail(new Error("connection lost"));
    await expect(second).rejects.toThrow("connection lost");
    await settled();
    const third = report("k");
    expect(runs).toHaveLength(3);
    runs[2]!.finish("again");
    expect(await third).toBe("again");
  });

  it("frees the key when the read throws before returning a promise", async () => {
    let calls = 0;
    const report = coalesce(
      (a: string) => {
        calls += 1;
        if (calls === 1) throw new Error("bad argument");
        return Promise.resolve(`read ${calls} of ${a}`);
      },
      (a) => a,
    );
    await expect(report("k")).rejects.toThrow("bad argument");
    await settled();
    expect(report.running()).toBe(0);
    expect(await report("k")).toBe("read 2 of k");
  });
});
