// Snapshot save/load through exec: migration, including the failures that must be clear.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureImage, INCOMING_ARGS, liveVms, loadMemory, openIncoming, QemuVm, saveMemory, type GuestImage } from "../src/index";
import { HELLO_AGENT, readFirstLine, removeTempDirs, sharedKernel, tempDir } from "./helpers";

let cacheDir: string;
let image: GuestImage;

beforeAll(async () => {
  cacheDir = tempDir("mig");
  const k = await sharedKernel();
  image = await ensureImage({ cacheDir, kernel: k.kernel, moduleDir: k.moduleDir, injectAgent: true, agentBinary: HELLO_AGENT });
}, 300_000);
afterAll(async () => {
  for (const vm of liveVms()) await vm.shutdown({ graceMs: 0 });
  removeTempDirs();
});

const launch = (extraArgs: string[] = [], fds?: number[]) =>
  QemuVm.launch({ name: "m", kernel: image.kernel, initrd: image.initrd, memoryMiB: 128, cpus: 1, accel: "tcg", extraArgs, fds });

describe("migration snapshots", () => {
  test("save then load (plain and zstd) into a paused VM that then runs", async () => {
    const dir = tempDir("snap");
    const vm = await launch();
    try {
      for (const compress of [false, true]) {
        const file = path.join(dir, `m${compress ? ".zst" : ""}`);
        const bytes = await saveMemory(vm, file, { compress });
        expect(bytes).toBe(fs.statSync(file).size);
        expect(fs.readdirSync(dir).filter((f) => f.includes("partial") || f.endsWith(".failed"))).toEqual([]);
        const r = await launch(INCOMING_ARGS);
        try {
          await loadMemory(r, file, { compressed: compress });
          expect((await r.qmp.execute("query-status")).status).toBe("paused");
          await r.qmp.execute("cont");
          expect((await r.qmp.execute("query-status")).status).toBe("running");
        } finally {
          await r.shutdown({ graceMs: 0 });
        }
      }
    } finally {
      await vm.shutdown({ graceMs: 0 });
    }
  }, 120_000);

  test("QEMU reads a stream as an open file (fd:3); a zstd one is unpacked into an unlinked file first", async () => {
    const dir = tempDir("fd");
    const vm = await launch();
    try {
      for (const compress of [false, true]) {
        const file = path.join(dir, `m${compress ? ".zst" : ""}`);
        await saveMemory(vm, file, { compress });
        const stream = openIncoming(file, { compressed: compress });
        expect(stream.fds.length).toBe(1);
        const r = await launch(INCOMING_ARGS, stream.fds).finally(() => stream.close());
        try {
          await loadMemory(r, stream);
          expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`provium-incoming-p${process.pid}-`))).toEqual([]);
          expect((await r.qmp.execute("query-status")).status).toBe("paused");
          await r.qmp.execute("cont");
          expect((await r.qmp.execute("query-status")).status).toBe("running");
        } finally {
          await r.shutdown({ graceMs: 0 });
        }
      }
    } finally {
      await vm.shutdown({ graceMs: 0 });
    }
    expect(() => openIncoming(path.join(dir, "nope"))).toThrow(/snapshot file is missing/);
  }, 120_000);

  test("a save waits for a busy guest to go idle, but not for longer than settleMs", async () => {
    const dir = tempDir("settle");
    const vm = await launch(); // still booting: its vCPU is busy
    try {
      const t = performance.now();
      const bytes = await saveMemory(vm, path.join(dir, "m"), { settleMs: 300 });
      expect(bytes).toBeGreaterThan(0);
      expect(performance.now() - t).toBeLessThan(10_000); // the wait is bounded (the save itself: < 1 s)
    } finally {
      await vm.shutdown({ graceMs: 0 });
    }
  }, 120_000);

  test("a truncated plain snapshot fails at once: QEMU reports it and exits", async () => {
    const dir = tempDir("trunc-fd");
    const vm = await launch();
    const file = path.join(dir, "m");
    await saveMemory(vm, file);
    await vm.shutdown({ graceMs: 0 });
    for (const size of [4096, Math.floor(fs.statSync(file).size / 2)]) {
      fs.truncateSync(file, size);
      const stream = openIncoming(file);
      const r = await launch(INCOMING_ARGS, stream.fds).finally(() => stream.close());
      try {
        const t = performance.now();
        await expect(loadMemory(r, stream, { timeoutMs: 60_000 })).rejects.toThrow(/does not load \(truncated or corrupt\?\)/);
        expect(performance.now() - t).toBeLessThan(30_000);
      } finally {
        await r.shutdown({ graceMs: 0 });
      }
    }
  }, 120_000);

  test("a truncated snapshot fails at once instead of hanging", async () => {
    const dir = tempDir("trunc");
    const vm = await launch();
    const file = path.join(dir, "m.zst");
    await saveMemory(vm, file, { compress: true });
    await vm.shutdown({ graceMs: 0 });
    fs.truncateSync(file, 4096);
    const r = await launch(INCOMING_ARGS);
    try {
      const t = performance.now();
      await expect(loadMemory(r, file, { compressed: true, timeoutMs: 60_000 })).rejects.toThrow(/does not load \(truncated or corrupt\?\)/);
      expect(performance.now() - t).toBeLessThan(30_000);
    } finally {
      await r.shutdown({ graceMs: 0 });
    }
    // Unpacked ahead (as restores do): zstd's own word on the file, before QEMU reads a byte.
    const stream = openIncoming(file, { compressed: true });
    const r2 = await launch(INCOMING_ARGS, stream.fds).finally(() => stream.close());
    try {
      await expect(loadMemory(r2, stream, { timeoutMs: 60_000 })).rejects.toThrow(/does not load \(truncated or corrupt\?\): zstd: .*premature end/);
    } finally {
      await r2.shutdown({ graceMs: 0 });
    }
  }, 120_000);

  // Needs root to mount a small tmpfs (CI runs as root).
  test.skipIf(process.getuid?.() !== 0)("a disk that fills up during a save: a clear error and no partial file", async () => {
    const mnt = tempDir("full");
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt]);
    expect(m.exitCode).toBe(0);
    const vm = await launch();
    try {
      await readFirstLine(vm.agentSocket); // booted: the kernel alone is megabytes of memory
      await expect(saveMemory(vm, path.join(mnt, "m"))).rejects.toThrow(/could not write .*: No space left on device \(ENOSPC; [0-9.]+ MiB free in /);
      expect(fs.readdirSync(mnt)).toEqual([]);
    } finally {
      await vm.shutdown({ graceMs: 0 });
      Bun.spawnSync(["umount", mnt]);
    }
  }, 120_000);
});
