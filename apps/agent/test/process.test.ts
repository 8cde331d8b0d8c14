// The process family on the host (Bun.spawn works the same here as in the guest).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { processOp, execIn, INLINE_MAX } from "../src/process";
import { createNamespace, namespace } from "../src/namespace";
import type { ByteStream } from "../src/streams";

const root = namespace(0);
const sh = (cmd: string) => ({ argv: ["/bin/sh", "-c", cmd] });
const dec = (b?: Uint8Array) => new TextDecoder().decode(b ?? new Uint8Array());

async function spawn(cmd: string, ns = root, extra = {}) {
  const r: any = await processOp({ spawn: { ...sh(cmd), ...extra } }, ns);
  return r.process.spawned.handle as number;
}
const op = async (o: object, ns = root): Promise<any> => ((await processOp(o as never, ns)) as any).process;

describe("processes", () => {
  test("wait returns the exit and all output", async () => {
    const h = await spawn("echo out; echo err >&2; sleep 0.3; exit 3");
    expect((await op({ status: h })).status.running).toBe(true);
    expect((await op({ pid: h })).pid).toBeGreaterThan(0);
    const w = (await op({ wait: { handle: h, timeoutMs: 0 } })).waited;
    expect(w.exited).toBe(true);
    expect(w.result.exitCode).toBe(3);
    expect(dec(w.result.stdout)).toBe("out\n");
    expect(dec(w.result.stderr)).toBe("err\n");
    expect((await op({ status: h })).status.running).toBe(false);
    expect((await op({ pid: h })).pid).toBe(0);
    await op({ close: h });
  });

  test("signals go to the process group; delivered is false after exit", async () => {
    const h = await spawn("sleep 30");
    expect((await op({ signal: { handle: h, signal: 15 } })).delivered).toBe(true);
    const w = (await op({ wait: { handle: h } })).waited;
    expect(w.result.signal).toBe(15);
    expect((await op({ signal: { handle: h, signal: 15 } })).delivered).toBe(false);
    await op({ close: h });
  });

  test("stdin writes and close; an opened stream takes the output from the start", async () => {
    const h = await spawn("echo early; cat");
    await Bun.sleep(100);
    const s = (await op({ openStream: { handle: h } })).stream;
    await op({ stdinWrite: { handle: h, data: new Uint8Array([0, 255, 10]) } });
    await op({ closeStdin: h });
    const w = (await op({ wait: { handle: h } })).waited;
    expect(w.result.stdout.byteLength).toBe(0);
    const got = await root.get<ByteStream>(s, "stream").read(1000, 1000);
    expect([...got.data]).toEqual([...Buffer.from("early\n"), 0, 255, 10]);
    await expect(op({ stdinWrite: { handle: h, data: new Uint8Array([1]) } })).rejects.toThrow("stdin is closed");
    await op({ close: h });
    await root.close(s);
  });

  test("a wait whose timeout passes SIGKILLs the group and says timed out, with the output so far", async () => {
    const ns = createNamespace();
    const h = await spawn("echo before; sleep 30 & echo $!; wait", ns);
    const w = (await op({ wait: { handle: h, timeoutMs: 100 } }, ns)).waited;
    expect(w.exited).toBe(true);
    expect(w.result).toMatchObject({ timedOut: true, signal: 0 });
    const [before, child] = dec(w.result.stdout).split("\n");
    expect(before).toBe("before");
    expect((await op({ status: h }, ns)).status.running).toBe(false);
    // the background child went with the group (gone, or a zombie until its new parent reaps it)
    const dead = () => {
      try {
        return readFileSync(`/proc/${child}/stat`, "utf8").split(") ")[1]![0] === "Z";
      } catch {
        return true;
      }
    };
    for (let i = 0; i < 50 && !dead(); i++) await Bun.sleep(20);
    expect(dead()).toBe(true);
    expect((await op({ workerJoin: 0 }, ns)).joined.worst).toBe(-2); // ranks as timed out
    await op({ workerClose: true }, ns);
  });

  test("a missing program is an error naming no such file, not a process", async () => {
    const p = processOp({ spawn: { argv: ["/no/such/prog"] } }, root);
    await expect(p).rejects.toMatchObject({ code: "ENOENT", message: "No such file or directory" });
    await expect(processOp({ spawn: { argv: ["no-such-prog-in-path"] } }, root)).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("large output stays behind as an ended stream", async () => {
    const r = await execIn(root, sh(`head -c ${INLINE_MAX + 10} /dev/zero`));
    expect(r.stdout.byteLength).toBe(0);
    const s = root.get<ByteStream>(r.stdoutRest, "stream");
    const a = await s.read(INLINE_MAX, 0);
    const b = await s.read(INLINE_MAX, 0);
    expect(a.data.byteLength + b.data.byteLength).toBe(INLINE_MAX + 10);
    expect(b.eof).toBe(true);
    await root.close(r.stdoutRest);
  });
});

describe("workers", () => {
  test("join returns the worst exit code; kill signals every child; close drops the namespace", async () => {
    const ns = createNamespace();
    await execIn(ns, sh("exit 2"));
    const a = await spawn("exit 5", ns);
    await spawn("sleep 30", ns);
    expect((await op({ workerJoin: 200 }, ns)).joined).toEqual({ done: false, worst: 5, reaped: 2, running: 1 });
    expect((await op({ workerKill: 9 }, ns)).count).toBe(1);
    expect((await op({ workerJoin: 0 }, ns)).joined).toEqual({ done: true, worst: -1, reaped: 3, running: 0 });
    expect((await op({ census: true })).census.workers).toBeGreaterThanOrEqual(1);
    await op({ workerClose: true }, ns);
    expect(() => namespace(ns.id)).toThrow("no worker");
    void a;
  });

  test("close terminates running children", async () => {
    const ns = createNamespace();
    await spawn("sleep 30", ns);
    const t = performance.now();
    const j = (await op({ workerClose: true }, ns)).joined;
    expect(j.done).toBe(true);
    expect(j.worst).toBe(-1);
    expect(performance.now() - t).toBeLessThan(1500);
  });
});
