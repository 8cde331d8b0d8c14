// The CLI end to end: discovery, reporting, exit codes and the bad-input errors that must
// be clear. Tests that boot guests use real QEMU (TCG on machines without working KVM).
import { describe, expect, test, beforeAll } from "bun:test";
import { join, resolve } from "node:path";
import { existsSync, readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { encodeCpio, sweepStaleRunDirs } from "@provium/vmm";

const main = resolve(import.meta.dir, "../src/main.ts");
const fixtures = join(import.meta.dir, "fixtures");

async function provium(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const p = Bun.spawn(["bun", main, ...args], { cwd: opts.cwd ?? fixtures, stdout: "pipe", stderr: "pipe", env: { ...process.env, [MARK.split("=")[0]!]: MARK.split("=")[1]!, ...opts.env } });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr, out: stdout + stderr };
}

// QEMU processes started by this test file's provium runs: they inherit a marker variable,
// so other QEMUs on the machine (other suites running at the same time) are not counted.
const MARK = `PROVIUM_TEST_MARK=${process.pid}-${Date.now()}`;
function qemuPids() {
  const r = Bun.spawnSync(["pgrep", "-f", "qemu-system-x86_64"]);
  return r.stdout.toString().split("\n").filter(Boolean).map(Number).filter((pid) => {
    try {
      // A zombie (killed, not yet reaped by init) is gone for our purposes.
      if (readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]!.startsWith("Z")) return false;
      return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(MARK);
    } catch {
      return false;
    }
  });
}

describe("cli", () => {
  test("--help lists every option", async () => {
    const r = await provium(["--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--filter", "--tag", "--no-tag", "--include-slow", "--fail-fast", "--timeout", "--jobs", "--accel", "--boot-timeout", "--json", "--verbose", "--quiet"])
      expect(r.stdout).toContain(flag);
  });

  test("a syntax error fails its file with file:line; the other file still runs", async () => {
    const r = await provium(["broken/"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("broken/a_syntax.test.lua:2:");
    expect(r.stdout).toMatch(/✗ broken\/b_runtime\.test\.lua › fails at runtime/);
    expect(r.stdout).toContain("broken/b_runtime.test.lua:3: attempt to index a nil value");
    expect(r.stdout).toMatch(/✓ broken\/b_runtime\.test\.lua › still runs after a failing test/);
    expect(r.stdout).toMatch(/^1 passed, 2 failed/m);
  });

  test("--json prints one event per line", async () => {
    const r = await provium(["broken/b_runtime.test.lua", "--json"]);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(events[0].kind).toBe("run_started");
    expect(events.at(-1).kind).toBe("run_completed");
    expect(events.filter((e) => e.kind === "test_failed")[0].traceback).toContain("b_runtime.test.lua:3");
    expect(events.every((e) => e.v === 1 && typeof e.ts === "number")).toBe(true);
  });

  test("an unknown profile names itself and the config file", async () => {
    const r = await provium(["unknown.test.lua"], { cwd: join(fixtures, "badprofile") });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("unknown.test.lua:1: unknown profile 'nosuchprofile' in");
    expect(r.stdout).toContain(join(fixtures, "badprofile", "provium.toml"));
    expect(r.stdout).toContain("known profiles: badkernel, debian, minimal, nokernel, tiny");
  });

  test("a profile whose kernel is missing says which file", async () => {
    const r = await provium(["missing_kernel.test.lua"], { cwd: join(fixtures, "badprofile") });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("missing_kernel.test.lua:3:");
    expect(r.stdout).toContain("profiles.nokernel.kernel:");
    expect(r.stdout).toContain("does-not-exist/vmlinuz does not exist");
  });

  test("a boot whose QEMU cannot start gives its capacity share back at once", async () => {
    // --mem 700M: the file's second 512 MiB VM fits only if the failed one's share was returned.
    const r = await provium(["launch_fails.test.lua", "--mem", "700M"], { cwd: join(fixtures, "badprofile") });
    expect(r.stdout).toContain("2 passed, 0 failed");
  }, 120_000);

  test("missing QEMU says what to install, before any file starts", async () => {
    const r = await provium(["../../../../examples/hello.test.lua", "--accel", "tcg"], { env: { PROVIUM_QEMU: "/nonexistent/qemu-system-x86_64" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("provium: /nonexistent/qemu-system-x86_64: qemu-system-x86_64 not found: install it (Debian/Ubuntu: sudo apt-get install -y qemu-system-x86)");
  });

  test("bad config is a clear error naming the key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "provium-cfg-"));
    writeFileSync(join(dir, "provium.toml"), "[profiles.x]\nkernal = 'typo'\n");
    writeFileSync(join(dir, "a.test.lua"), "");
    const r = await provium([], { cwd: dir });
    rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("provium.toml: profiles.x: unknown key 'kernal'");
  });
});

describe("cli with real guests", () => {
  let silentDir: string;
  beforeAll(() => {
    // An initramfs whose init only prints and sleeps: the agent never answers.
    silentDir = join(fixtures, "noagent");
    writeFileSync(
      join(silentDir, "silent.cpio"),
      encodeCpio([
        { path: "bin", type: "dir" },
        { path: "bin/busybox", type: "file", mode: 0o755, data: readFileSync("/bin/busybox") },
        { path: "init", type: "file", mode: 0o755, data: new TextEncoder().encode("#!/bin/busybox sh\n/bin/busybox echo silent-init-was-here\nexec /bin/busybox sleep 1000\n") },
      ]),
    );
  });

  test("an agent that never answers fails the test with the console tail", async () => {
    const before = qemuPids();
    const r = await provium(["silent.test.lua", "--boot-timeout", "20s"], { cwd: silentDir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("did not answer within 20 s");
    expect(r.stdout).toContain("silent-init-was-here");
    expect(qemuPids().filter((p) => !before.includes(p))).toEqual([]);
  }, 120_000);

  test("the example suite passes on a real guest and leaves no QEMU or temp dir", async () => {
    const before = qemuPids();
    const r = await provium([resolve(import.meta.dir, "../../../examples"), "--json"]);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(events.filter((e) => e.kind === "test_passed").map((e) => e.test)).toContain("echo round-trips");
    expect(r.code).toBe(0);
    expect(qemuPids().filter((p) => !before.includes(p))).toEqual([]);
    // Every run directory the run created (QMP and agent sockets, console log) is gone.
    const runDirs = events.filter((e) => e.kind === "vm_spawned").map((e) => e.run_dir);
    expect(runDirs.length).toBeGreaterThan(0);
    expect(runDirs.filter((d) => existsSync(d))).toEqual([]);
  }, 300_000);

  test("Ctrl-C stops the run, kills QEMU and prints the partial summary", async () => {
    const before = qemuPids();
    const p = Bun.spawn(["bun", main, resolve(import.meta.dir, "../../../examples")], {
      cwd: fixtures,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, [MARK.split("=")[0]!]: MARK.split("=")[1]! },
    });
    // Wait until a guest is up (its QEMU exists), then interrupt.
    const deadline = Date.now() + 60_000;
    while (qemuPids().filter((x) => !before.includes(x)).length === 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(qemuPids().filter((x) => !before.includes(x)).length).toBeGreaterThan(0);
    p.kill("SIGINT");
    const code = await p.exited;
    const out = await new Response(p.stdout).text();
    expect(code).toBe(130);
    expect(out).toMatch(/\d+ passed, \d+ failed/);
    expect(qemuPids().filter((x) => !before.includes(x))).toEqual([]);
  }, 120_000);
});

test("Ctrl-C while a snapshot and the QEMU launched ahead for it exist leaves neither behind", async () => {
  const before = qemuPids();
  const p = Bun.spawn(["bun", main, join(fixtures, "runner/interrupt")], {
    cwd: fixtures,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, [MARK.split("=")[0]!]: MARK.split("=")[1]! },
  });
  // reset_between_tests takes its snapshot before the first test: from then on there are two
  // QEMUs (the VM and the one launched ahead to restore it) and the snapshot dir.
  const snapDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith(`provium-snap-p${p.pid}-`));
  const deadline = Date.now() + 90_000;
  while ((qemuPids().filter((x) => !before.includes(x)).length < 2 || !snapDirs().length) && Date.now() < deadline) await Bun.sleep(100);
  expect(snapDirs().length).toBe(1);
  expect(qemuPids().filter((x) => !before.includes(x)).length).toBe(2);
  p.kill("SIGINT");
  expect(await p.exited).toBe(130);
  expect(qemuPids().filter((x) => !before.includes(x))).toEqual([]);
  expect(snapDirs()).toEqual([]);
}, 120_000);

test("Ctrl-C with a disk made by attach_disk plugged in leaves no disk image behind", async () => {
  const p = Bun.spawn(["bun", main, join(fixtures, "runner/interrupt-disk")], {
    cwd: fixtures,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, [MARK.split("=")[0]!]: MARK.split("=")[1]! },
  });
  // attach_disk({size}) makes the image in the VM's run dir (provium-run-p<pid>-*/disk-disk1.raw)
  const images = () =>
    readdirSync(tmpdir())
      .filter((d) => d.startsWith(`provium-run-p${p.pid}-`))
      .flatMap((d) => {
        try {
          return readdirSync(join(tmpdir(), d)).filter((f) => f.startsWith("disk-")).map((f) => join(d, f));
        } catch {
          return [];
        }
      });
  const deadline = Date.now() + 90_000;
  while (!images().length && Date.now() < deadline) await Bun.sleep(100);
  expect(images().length).toBe(1);
  await Bun.sleep(300); // the guest is running its sleep
  p.kill("SIGINT");
  expect(await p.exited).toBe(130);
  expect(images()).toEqual([]);
}, 120_000);

test("SIGKILL of provium itself still takes its QEMUs down (they die with their parent thread); the next run's sweep takes their run dirs", async () => {
  const before = qemuPids();
  const p = Bun.spawn(["bun", main, resolve(import.meta.dir, "../../../examples")], {
    cwd: fixtures,
    stdout: "ignore",
    stderr: "ignore",
    env: { ...process.env, [MARK.split("=")[0]!]: MARK.split("=")[1]! },
  });
  const deadline = Date.now() + 60_000;
  while (qemuPids().filter((x) => !before.includes(x)).length === 0 && Date.now() < deadline) await Bun.sleep(100);
  expect(qemuPids().filter((x) => !before.includes(x)).length).toBeGreaterThan(0);
  p.kill("SIGKILL");
  await p.exited;
  await Bun.sleep(500);
  expect(qemuPids().filter((x) => !before.includes(x))).toEqual([]);
  // A QEMU killed outright leaves its sockets: its run dir is the sweep's (any age, here).
  expect(sweepStaleRunDirs(tmpdir(), 0).length).toBeGreaterThan(0);
}, 120_000);

describe("interactive", () => {
  test("repl evaluates Lua against a live guest; console runs lines in the guest", async () => {
    const repl = Bun.spawn(["bun", main, "repl", "minimal"], { cwd: fixtures, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    repl.stdin.write('vm:run("echo from-guest").stdout\n1 + 2\nnot_a_function()\n');
    repl.stdin.end();
    const out = await new Response(repl.stdout).text();
    expect(await repl.exited).toBe(0);
    expect(out).toContain('"from-guest\\n"');
    expect(out).toMatch(/^3$/m);
    expect(out).toContain("attempt to call a nil value");

    const con = Bun.spawn(["bun", main, "console", "minimal", "--agent"], { cwd: fixtures, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    con.stdin.write("echo hi from the shell\nexit 3\n");
    con.stdin.end();
    const text = await new Response(con.stdout).text();
    expect(await con.exited).toBe(0);
    expect(text).toContain("--- serial console of vm vm ---");
    expect(text).toContain("hi from the shell");
    expect(text).toContain("[exited 3]");
  }, 180_000);

  test("console attaches to the serial console: the boot log, then a shell on ttyS0 until Ctrl-]", async () => {
    const con = Bun.spawn(["bun", main, "console", "minimal"], { cwd: fixtures, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    con.stdin.write("echo serial-$((2 + 3))\n");
    con.stdin.flush();
    // keys after Ctrl-] are not sent: it leaves once the shell answered
    let out = "";
    let left = false;
    const dec = new TextDecoder();
    for await (const chunk of con.stdout) {
      out += dec.decode(chunk);
      if (/^serial-5\r?$/m.test(out) && !left) {
        left = true;
        con.stdin.write("\x1dnot sent\n");
        con.stdin.end();
      }
    }
    const err = await new Response(con.stderr).text();
    expect(await con.exited).toBe(0);
    expect(out).toContain("SeaBIOS"); // the log from QEMU's first byte
    expect(err).toContain("Ctrl-] leaves");
    expect(out).toMatch(/^serial-5\r?$/m); // the shell on ttyS0 ran it (the echoed line has $((2 + 3)))
    expect(out).not.toContain("not sent");
  }, 180_000);
});
