import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureAgentBinary, ensureImage, findQemu, liveVms, QEMU_MISSING, QemuVm, type GuestImage } from "../src/index";
import { FIXTURES, HELLO_AGENT, processGone, readFirstLine, removeTempDirs, sharedKernel, tempDir } from "./helpers";

let cacheDir: string;
let image: GuestImage;

beforeAll(async () => {
  cacheDir = tempDir("qemu");
  const k = await sharedKernel(); // first run ever: downloads the Debian kernel (~20 MB)
  image = await ensureImage({ cacheDir, kernel: k.kernel, moduleDir: k.moduleDir, injectAgent: true, agentBinary: HELLO_AGENT });
}, 300_000);
afterAll(async () => {
  for (const vm of liveVms()) await vm.shutdown({ graceMs: 0 });
  removeTempDirs();
});

const launch = (extra: Partial<Parameters<typeof QemuVm.launch>[0]> = {}) =>
  QemuVm.launch({ name: "t", kernel: image.kernel, initrd: image.initrd, memoryMiB: 256, cpus: 1, accel: "tcg", ...extra });

describe("QemuVm", () => {
  test("boots the minimal guest: agent port, QMP, console, clean shutdown", async () => {
    const t0 = performance.now();
    const vm = await launch();
    try {
      expect(processGone(vm.pid)).toBe(false);
      expect(fs.existsSync(vm.runDir)).toBe(true);
      expect(path.basename(vm.runDir)).toStartWith(`provium-run-p${process.pid}-`); // the sweep knows its owner
      expect(liveVms()).toContain(vm);
      const { line, sock } = await readFirstLine(vm.agentSocket);
      console.error(`[measure] launch -> first agent line: ${(performance.now() - t0).toFixed(0)} ms`);
      expect(line).toStartWith("hello from 6.");
      expect(await vm.qmp.execute("query-status")).toMatchObject({ status: "running", running: true });
      sock.write("5\n"); // the test agent exits with this status; init reports it and powers off
      expect(await vm.exited).toEqual({ code: 0, signal: null });
      expect(vm.consoleTail()).toContain("provium-init: agent exited with status 5");
      sock.destroy();
    } finally {
      await vm.shutdown();
    }
    expect(processGone(vm.pid)).toBe(true);
    expect(fs.existsSync(vm.runDir)).toBe(false);
    expect(liveVms()).not.toContain(vm);
    await vm.shutdown(); // idempotent
  }, 60_000);

  test("a TCG guest reads the TSC, copies without ERMS (rep movsb is a byte per step in TCG), and its agent runs without JSC's FTL tier", async () => {
    const vm = await launch();
    try {
      const { line, sock } = await readFirstLine(vm.agentSocket);
      expect(line).toMatch(/ clocksource=tsc(-early)? erms=0 useFTLJIT=0$/); // tsc-early until the kernel refines it
      sock.destroy();
    } finally {
      await vm.shutdown({ graceMs: 0 });
    }
  }, 60_000);

  test("shutdown() of a running guest quits via QMP and leaves nothing behind", async () => {
    const vm = await launch();
    await vm.shutdown({ graceMs: 2000 });
    expect(processGone(vm.pid)).toBe(true);
    expect((await vm.exited).signal).toBeNull(); // QMP quit, not SIGKILL
    expect(fs.existsSync(vm.runDir)).toBe(false);
  });

  test("killSync() kills and cleans up synchronously", async () => {
    const vm = await launch();
    vm.killSync();
    expect(fs.existsSync(vm.runDir)).toBe(false);
    expect((await vm.exited).signal).toBe("SIGKILL");
    expect(processGone(vm.pid)).toBe(true);
  });

  test("a missing QEMU gives the install hint", async () => {
    await expect(launch({ qemuBinary: "/nonexistent/qemu-system-x86_64" })).rejects.toThrow(QEMU_MISSING);
    const saved = process.env.PATH;
    process.env.PATH = tempDir("nopath");
    try {
      expect(() => findQemu()).toThrow(/^qemu-system-x86_64 not found: install it \(Debian\/Ubuntu: sudo apt-get install -y qemu-system-x86\)$/);
    } finally {
      process.env.PATH = saved;
    }
  });

  test("QEMU failing at startup reports its stderr and removes the run dir", async () => {
    const before = new Set(fs.readdirSync(path.dirname(cacheDir)).filter((f) => f.startsWith("provium-") && !f.startsWith("provium-vmm-test")));
    const err = await launch({ extraArgs: ["-device", "no-such-device-xyz"] }).catch((e) => e);
    expect(err.message).toContain("QEMU exited during startup");
    expect(err.message).toContain("no-such-device-xyz");
    expect(err.message).toContain("console");
    const after = fs.readdirSync(path.dirname(cacheDir)).filter((f) => f.startsWith("provium-") && !f.startsWith("provium-vmm-test") && !before.has(f));
    expect(after).toEqual([]);
    expect(liveVms()).toEqual([]);
  });

  for (const how of ["SIGINT", "SIGTERM", "throw", "exit"] as const) {
    test(`no QEMU or run dir survives the host process (${how})`, async () => {
      const child = Bun.spawn(["bun", path.join(FIXTURES, "launch-and-hold.ts"), how.startsWith("SIG") ? "wait" : how], {
        env: { ...process.env, TEST_KERNEL: image.kernel, TEST_INITRD: image.initrd! },
        stdout: "pipe",
        stderr: "pipe",
      });
      const reader = child.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`child ended early: ${await new Response(child.stderr).text()}`);
        out += new TextDecoder().decode(value);
      }
      const { pid, runDir } = JSON.parse(out.trim());
      expect(processGone(pid)).toBe(false);
      if (how === "SIGINT" || how === "SIGTERM") child.kill(how);
      await child.exited;
      if (how === "SIGINT") expect(child.exitCode).toBe(130);
      if (how === "SIGTERM") expect(child.exitCode).toBe(143);
      if (how === "throw") expect(child.exitCode).toBe(1);
      if (how === "exit") expect(child.exitCode).toBe(3);
      // the QEMU was killed (it was our child's child: once reaped by init it is gone)
      for (let i = 0; i < 100 && !processGone(pid); i++) await Bun.sleep(20);
      expect(processGone(pid)).toBe(true);
      expect(fs.existsSync(runDir)).toBe(false);
    }, 30_000);
  }

  test("a real bun-compiled agent runs in the guest with its private glibc", async () => {
    const k = await sharedKernel();
    const agentBinary = await ensureAgentBinary({ cacheDir, entry: path.join(FIXTURES, "bun-agent/src/main.ts") });
    const img = await ensureImage({ cacheDir, kernel: k.kernel, moduleDir: k.moduleDir, injectAgent: true, agentBinary });
    const t0 = performance.now();
    const vm = await QemuVm.launch({ name: "bun", kernel: img.kernel, initrd: img.initrd, memoryMiB: 512, cpus: 1, accel: "tcg" });
    try {
      const { line, sock } = await readFirstLine(vm.agentSocket, "3\n");
      console.error(`[measure] launch -> first line from a bun agent: ${(performance.now() - t0).toFixed(0)} ms`);
      expect(line).toMatch(/^hello from bun \S+ pid \d+ ldlp=-$/); // no LD_LIBRARY_PATH leaks to the agent's children
      expect(await vm.exited).toEqual({ code: 0, signal: null });
      expect(vm.consoleTail()).toContain("provium-init: agent exited with status 3");
      sock.destroy();
    } finally {
      await vm.shutdown();
    }
  }, 90_000);
});
