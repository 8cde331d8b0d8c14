// exec (vm:run) on the host, both ways of reading output: our own pipes read with read(2)
// (what the agent uses) and Bun's pipe streams (its fallback without libc).
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { exec, forceStreams } from "../src/exec";

const sh = (cmd: string, extra = {}) => ({ argv: ["/bin/sh", "-c", cmd], ...extra });
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const fds = () => readdirSync("/proc/self/fd").length;

for (const mode of ["pipes", "streams"] as const) {
  describe(`exec (${mode})`, () => {
    const run = (cmd: string, extra = {}) => {
      forceStreams(mode === "streams");
      return exec(sh(cmd, extra));
    };
    afterAll(() => forceStreams(false));

    test("exit code, stdout and stderr, bytes as they are", async () => {
      const r = await run("printf 'a\\000b\\377'; printf 'e\\n' >&2; exit 3");
      expect(r.exitCode).toBe(3);
      expect([...r.stdout]).toEqual([97, 0, 98, 255]);
      expect(dec(r.stderr)).toBe("e\n");
      expect(r.signal).toBe(0);
      expect(r.timedOut).toBe(false);
    });

    test("output larger than a pipe holds arrives whole, in order", async () => {
      const r = await run("i=0; while [ $i -lt 3 ]; do head -c 1500000 /dev/zero | tr '\\0' $i; i=$((i+1)); done; echo done >&2");
      expect(r.stdout.byteLength).toBe(4_500_000);
      expect([r.stdout[0], r.stdout[1_500_000], r.stdout[4_499_999]]).toEqual([48, 49, 50]);
      expect(dec(r.stderr)).toBe("done\n");
    });

    test("stdin, env and cwd", async () => {
      const r = await run("cat; echo $X; pwd", { stdin: Buffer.from("in\n"), env: [{ name: "X", value: "ex" }], cwd: "/tmp" });
      expect(dec(r.stdout)).toBe("in\nex\n/tmp\n");
    });

    test("a missing program is 127", async () => {
      forceStreams(mode === "streams");
      const r = await exec({ argv: ["/no/such/program"] });
      expect(r.exitCode).toBe(127);
      expect(dec(r.stderr)).toContain("command not found");
    });

    test("a timeout kills the group and says so", async () => {
      const t = performance.now();
      const r = await run("sleep 10 & sleep 10", { timeoutMs: 200 });
      expect(r.timedOut).toBe(true);
      expect(performance.now() - t).toBeLessThan(2000);
    });

    test("a signalled command reports its signal", async () => {
      const r = await run("echo partial; kill -TERM $$");
      expect(r.signal).toBe(15);
      expect(dec(r.stdout)).toBe("partial\n");
    });

    test("a command whose pipes close does not wait for the grace", async () => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        expect((await run("true")).exitCode).toBe(0);
        times.push(performance.now() - t);
      }
      expect(Math.min(...times)).toBeLessThan(60); // the grace is 100 ms
    });

    test("background children: what they write within the grace is kept, the reply does not wait for them", async () => {
      const t = performance.now();
      // "soon" is written just after the shell itself has exited, "late" long after the grace
      const r = await run("(while kill -0 $$ 2>/dev/null; do :; done; echo soon) & (sleep 3; echo late) & echo now");
      expect(performance.now() - t).toBeLessThan(1500);
      expect(dec(r.stdout)).toBe("now\nsoon\n");
    });

    test("a quick command is not held by a slow one running beside it", async () => {
      const slow = run("sleep 1.5");
      await Bun.sleep(20);
      const t = performance.now();
      expect((await run("echo quick")).exitCode).toBe(0);
      expect(performance.now() - t).toBeLessThan(1000);
      expect((await slow).exitCode).toBe(0);
    });

    test("no file descriptors are left behind", async () => {
      await run("true");
      const before = fds();
      for (let i = 0; i < 20; i++) await run("echo x; echo y >&2");
      await run("sleep 3 & echo bg"); // its pipes are let go after the grace
      await exec({ argv: ["/no/such/program"] });
      // Bun closes its stream ends a little later, those `sleep 3` holds once it exits; ours are
      // closed before exec returns. (Fewer than before is fine: `before` may still count
      // descriptors of earlier tests that Bun had not closed yet.)
      for (let i = 0; i < 250 && mode === "streams" && fds() > before; i++) await Bun.sleep(20);
      expect(fds()).toBeLessThanOrEqual(before);
    });
  });
}

// Bun's "pipe" is a socket pair: `> /dev/stdout` fails there (ENXIO), as it does not through a pipe.
test("stdout and stderr are pipes: /dev/stdout and /dev/stderr can be opened", async () => {
  forceStreams(false);
  const r = await exec(sh("stat -L -c %F /dev/stdout /dev/stderr; echo out > /dev/stdout; echo err > /dev/stderr"));
  expect(dec(r.stdout)).toBe("fifo\nfifo\nout\n");
  expect(dec(r.stderr)).toBe("err\n");
  expect(r.exitCode).toBe(0);
});
