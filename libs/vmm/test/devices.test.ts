// The devices of a VM, host side, on real guests: the serial console both ways, boot files and
// options, hot-plugged disks with faults, reset and the power button, panics. The guest's
// "agent" is a shell on the serial console (fixtures/console-shell-agent.sh), so every check
// goes through the console itself. One guest for most tests; a second one panics.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  bootFileEntries,
  createRawDisk,
  ensureImage,
  HotDisk,
  liveVms,
  MAX_CMDLINE_BYTES,
  pressPowerButton,
  QemuVm,
  resetMachine,
  waitExit,
  type GuestImage,
} from "../src/index";
import { FIXTURES, removeTempDirs, sharedKernel, tempDir } from "./helpers";

let dir: string;
let image: GuestImage;
let vm: QemuVm;
const READY = "CONSOLE-SHELL-READY";
const RTC_BASE = new Date("2030-01-01T00:00:00Z");

const launch = (extra: Partial<Parameters<typeof QemuVm.launch>[0]> = {}) =>
  QemuVm.launch({ name: "dev", kernel: image.kernel, initrd: image.initrd, memoryMiB: 256, cpus: 1, accel: "tcg", ...extra });

/** Resolves with the console text from now on once it contains `what` (or rejects after ms). */
function expectConsole(v: QemuVm, what: string | RegExp, ms = 60_000): { done: Promise<string> } {
  let text = "";
  let off = () => {};
  const done = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`console: no ${what} within ${ms} ms; got ${JSON.stringify(text.slice(-500))}`))), ms);
    off = v.console.subscribe((c) => {
      text += Buffer.from(c).toString("latin1");
      if (typeof what === "string" ? text.includes(what) : what.test(text)) {
        clearTimeout(timer);
        off();
        resolve(text);
      }
    });
  });
  return { done };
}

let seq = 0;
/** Runs a shell command on the console; resolves with its output and exit status. */
async function sh(v: QemuVm, cmd: string, ms = 30_000): Promise<{ out: string; rc: number }> {
  const n = ++seq;
  // $((n)) in the markers: the command text itself never matches them (if it were echoed)
  const w = expectConsole(v, new RegExp(`E${n}=(\\d+)`), ms);
  await v.console.write(`echo B$((${n})); ${cmd}; echo E$((${n}))=$?\n`);
  const text = (await w.done).replace(/\r/g, "");
  const m = new RegExp(`B${n}\\n([\\s\\S]*)E${n}=(\\d+)`).exec(text)!;
  return { out: m[1]!, rc: Number(m[2]) };
}

beforeAll(async () => {
  dir = tempDir("devices");
  const k = await sharedKernel();
  image = await ensureImage({ cacheDir: dir, kernel: k.kernel, moduleDir: k.moduleDir, injectAgent: true, agentBinary: path.join(FIXTURES, "console-shell-agent.sh"), extraModules: ["virtio_blk"] });
  const script = path.join(dir, "tool.sh");
  fs.writeFileSync(script, "#!/bin/sh\necho tool-ran\n");
  fs.chmodSync(script, 0o750);
  vm = await launch({
    cmdline: "provium.testmark=devices",
    rtcBase: RTC_BASE,
    rngSeed: new Uint8Array([1, 2, 3, 4]),
    bootFiles: [
      { path: "/etc/provium-test/hello.txt", data: new TextEncoder().encode("hello from host\n") },
      { path: "/tmp/bin/tool.sh", source: script },
    ],
  });
  await untilLogged(vm, READY);
}, 300_000);

async function untilLogged(v: QemuVm, what: string) {
  const t0 = Date.now();
  while (!Buffer.from(v.console.readLog()).toString("latin1").includes(what)) {
    if (Date.now() - t0 > 60_000) throw new Error(`guest not ready:\n${v.describe()}`);
    await Bun.sleep(50);
  }
}

afterAll(async () => {
  for (const v of liveVms()) await v.shutdown({ graceMs: 0 });
  removeTempDirs();
});

describe("console", () => {
  test("the host's log is complete from the firmware's first byte, and input reaches a guest shell", async () => {
    const log = Buffer.from(vm.console.readLog()).toString("latin1");
    expect(log).toContain("SeaBIOS"); // printed before the kernel: the log starts at QEMU's start
    expect(log.indexOf("SeaBIOS")).toBeLessThan(log.indexOf(READY));
    expect(fs.readFileSync(vm.consoleLog, "latin1")).toBe(log);
    const t0 = performance.now();
    const r = await sh(vm, "echo $((6 * 7))");
    console.error(`[measure] console write -> echo: ${(performance.now() - t0).toFixed(1)} ms`);
    expect(r).toEqual({ out: "42\n", rc: 0 });
    expect(vm.consoleTail(5)).toContain("42");
  }, 60_000);

  test("a dropped connection comes back (QEMU reconnects) and the same shell answers", async () => {
    (vm.console as any).conn.destroy(); // as if the host side had hiccuped
    const t0 = performance.now();
    expect((await sh(vm, "echo again")).out).toBe("again\n");
    console.error(`[measure] console reconnect + command: ${(performance.now() - t0).toFixed(0)} ms`);
  }, 30_000);
});

describe("boot options", () => {
  test("boot files are in place before the agent starts, with their modes; existing directories keep theirs", async () => {
    expect((await sh(vm, "cat /etc/provium-test/hello.txt")).out).toBe("hello from host\n");
    expect((await sh(vm, "stat -c %a /tmp/bin/tool.sh; /tmp/bin/tool.sh")).out).toBe("750\ntool-ran\n");
    expect((await sh(vm, "stat -c %a /tmp /etc")).out).toBe("1777\n755\n");
    expect((await sh(vm, "ls /provium-files /provium-rng-seed 2>&1 | wc -l")).out.trim()).toBe("2"); // both consumed
  }, 60_000);

  test("the command line carries the caller's part; the clock starts at rtcBase", async () => {
    expect((await sh(vm, "cat /proc/cmdline")).out).toContain("provium.testmark=devices");
    const now = Number((await sh(vm, "date +%s")).out.trim());
    const base = RTC_BASE.getTime() / 1000;
    expect(now).toBeGreaterThanOrEqual(base);
    expect(now).toBeLessThan(base + 300); // base + time since QEMU started
  }, 30_000);

  test("boot file errors name the file", () => {
    expect(() => bootFileEntries([{ path: "etc/x", data: new Uint8Array(1) }])).toThrow('boot file path must be absolute: "etc/x"');
    expect(() => bootFileEntries([{ path: "/x", source: path.join(dir, "nope") }])).toThrow(`boot file /x: host file not found: ${path.join(dir, "nope")}`);
    expect(() => bootFileEntries([{ path: "/x", data: new Uint8Array(1) }, { path: "//x", data: new Uint8Array(1) }])).toThrow("boot file //x given twice");
    expect(() => bootFileEntries([{ path: "/../x", data: new Uint8Array(1) }])).toThrow("escapes the root");
  });

  test("an overlong kernel command line is refused before QEMU starts", async () => {
    const err = await launch({ cmdline: "x".repeat(MAX_CMDLINE_BYTES) }).catch((e) => e);
    expect(err.message).toMatch(/^kernel command line too long: \d+ bytes, the limit is 2047/);
  });
});

describe("hot-plugged disks", () => {
  let disk: HotDisk;
  const dd = (args: string) => sh(vm, `dd ${args} 2>/dev/null`);

  test("attach: the guest sees the disk by its serial; host and guest see each other's sector writes", async () => {
    const file = path.join(dir, "d1.raw");
    createRawDisk(file, 8 << 20);
    const t0 = performance.now();
    disk = await HotDisk.attach(vm, { id: "d1", file });
    const seen = await sh(vm, "n=0; while [ ! -e /sys/block/vda/serial ] && [ $n -lt 500 ]; do usleep 10000; n=$((n+1)); done; echo $(cat /sys/block/vda/serial) $(cat /sys/block/vda/size)");
    console.error(`[measure] attach -> guest sees the disk: ${(performance.now() - t0).toFixed(0)} ms`);
    expect(seen.out).toBe(`d1 ${(8 << 20) / 512}\n`);
    expect(disk.size()).toBe(8 << 20);
    disk.writeSectors(100, Buffer.alloc(512, "HOST"));
    expect((await sh(vm, "dd if=/dev/vda bs=512 skip=100 count=1 iflag=direct 2>/dev/null | head -c 8")).out).toBe("HOSTHOST");
    expect((await dd("if=/dev/zero of=/dev/vda bs=512 seek=200 count=1 oflag=direct")).rc).toBe(0);
    expect((await sh(vm, "printf GUESTWROTE | dd of=/dev/vda bs=512 seek=201 conv=sync oflag=direct 2>/dev/null")).rc).toBe(0);
    expect(Buffer.from(disk.readSectors(201, 1)).subarray(0, 10).toString()).toBe("GUESTWROTE");
  }, 60_000);

  test("eio_read fails reads only, eio_write writes only, both at once, clear_faults heals at once", async () => {
    const read = "if=/dev/vda of=/dev/null bs=4096 count=1 iflag=direct";
    const write = "if=/dev/zero of=/dev/vda bs=4096 seek=10 count=1 oflag=direct";
    let t0 = performance.now();
    await disk.inject("eio_read");
    console.error(`[measure] fault_inject: ${(performance.now() - t0).toFixed(1)} ms`);
    expect((await dd(read)).rc).not.toBe(0);
    expect((await dd(write)).rc).toBe(0);
    await disk.inject("eio_write"); // beside eio_read
    expect(disk.faults).toEqual(["eio_read", "eio_write"]);
    expect((await dd(read)).rc).not.toBe(0);
    expect((await dd(write)).rc).not.toBe(0);
    await disk.clear();
    await disk.inject("eio_write");
    expect((await dd(read)).rc).toBe(0);
    expect((await dd(write)).rc).not.toBe(0);
    t0 = performance.now();
    await disk.clear();
    console.error(`[measure] clear_faults: ${(performance.now() - t0).toFixed(1)} ms`);
    expect((await dd(read)).rc).toBe(0);
    expect((await dd(write)).rc).toBe(0);
    expect(disk.faults).toEqual([]);
  }, 60_000);

  test("slow throttles the guest's I/O until cleared", async () => {
    const reads = "dd if=/dev/vda of=/dev/null bs=4096 count=30 iflag=direct 2>/dev/null"; // one process: its start doesn't drown the I/O time
    const time = async () => {
      const t0 = performance.now();
      await sh(vm, reads);
      return performance.now() - t0;
    };
    const fast = await time();
    await disk.inject("slow");
    const slow = await time();
    await disk.clear();
    const again = await time();
    console.error(`[measure] 30 direct 4 KiB reads: ${fast.toFixed(0)} ms, slow ${slow.toFixed(0)} ms, cleared ${again.toFixed(0)} ms`);
    expect(slow).toBeGreaterThan(2000); // 10 IOPS
    expect(slow).toBeGreaterThan(fast * 4);
    expect(again).toBeLessThan(slow / 4);
  }, 60_000);

  test("bad arguments are refused with what was wrong", async () => {
    expect(() => disk.readSectors(-1, 1)).toThrow("read_sectors: lba must be an integer >= 0, got -1");
    expect(() => disk.readSectors(16383, 2)).toThrow("read_sectors: sectors 16383..16384 are past the end of disk d1 (16384 sectors)");
    expect(() => disk.writeSectors(16383, new Uint8Array(513))).toThrow("write_sectors: sectors 16383..16384 are past the end of disk d1 (16384 sectors)");
    disk.writeSectors(0, new TextEncoder().encode("MINE")); // a part of a sector, as upstream's
    expect(new TextDecoder().decode(disk.readSectors(0, 1).subarray(0, 4))).toBe("MINE");
    await expect(disk.inject("eio" as any)).rejects.toThrow('unknown disk fault "eio": one of eio_read, eio_write, slow');
    await expect(HotDisk.attach(vm, { id: "bad id", file: disk.file })).rejects.toThrow('disk id "bad id"');
  });

  test("a read-only disk: the guest can't write, nor can write_sectors", async () => {
    const file = path.join(dir, "ro.raw");
    createRawDisk(file, 1 << 20);
    const ro = await HotDisk.attach(vm, { id: "ro1", file, readOnly: true });
    const r = await sh(vm, "n=0; while [ ! -e /sys/block/vdb/ro ] && [ $n -lt 500 ]; do usleep 10000; n=$((n+1)); done; echo $(cat /sys/block/vdb/serial) $(cat /sys/block/vdb/ro)");
    expect(r.out).toBe("ro1 1\n");
    expect((await dd("if=/dev/zero of=/dev/vdb bs=512 count=1 oflag=direct")).rc).not.toBe(0);
    expect(() => ro.writeSectors(0, new Uint8Array(512))).toThrow("disk ro1 is read-only");
    await ro.inject("eio_read"); // faults work on read-only disks too
    expect((await dd("if=/dev/vdb of=/dev/null bs=512 count=1 iflag=direct")).rc).not.toBe(0);
    await ro.detach();
  }, 60_000);

  test("detach: the device leaves the guest and QEMU lets go of the image", async () => {
    const t0 = performance.now();
    await disk.detach();
    console.error(`[measure] detach: ${(performance.now() - t0).toFixed(0)} ms`);
    expect((await sh(vm, "ls /sys/block")).out).not.toContain("vda");
    const fds = fs.readdirSync(`/proc/${vm.pid}/fd`).map((f) => {
      try {
        return fs.readlinkSync(`/proc/${vm.pid}/fd/${f}`);
      } catch {
        return "";
      }
    });
    expect(fds).not.toContain(disk.file);
    expect(() => disk.readSectors(0, 1)).toThrow("disk d1 is detached");
    await disk.detach(); // idempotent
    // the same id can be attached again
    const again = await HotDisk.attach(vm, { id: "d1", file: disk.file });
    await again.detach();
  }, 60_000);
});

describe("power", () => {
  test("reset reboots in place: new boot_id, same QEMU and sockets, the shell answers again", async () => {
    const before = (await sh(vm, "cat /proc/sys/kernel/random/boot_id")).out;
    const pid = vm.pid;
    const t0 = performance.now();
    const up = expectConsole(vm, READY, 60_000);
    await resetMachine(vm, () => up.done.then(() => {}));
    console.error(`[measure] reset -> guest shell ready: ${(performance.now() - t0).toFixed(0)} ms`);
    expect(vm.pid).toBe(pid);
    expect(vm.exitStatus).toBeNull();
    const after = (await sh(vm, "cat /proc/sys/kernel/random/boot_id")).out;
    expect(after).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(after).not.toBe(before);
    const actions = await vm.qmp.execute("query-status");
    expect(actions.running).toBe(true);
  }, 90_000);

  test("the power button powers the guest off: QEMU exits, guestEnd = poweroff", async () => {
    const t0 = performance.now();
    await pressPowerButton(vm);
    expect(await waitExit(vm, 30_000)).toBe(true);
    console.error(`[measure] power button -> QEMU exit: ${(performance.now() - t0).toFixed(0)} ms`);
    expect(vm.exitStatus).toEqual({ code: 0, signal: null });
    expect(vm.guestEnd).toBe("poweroff");
    await vm.shutdown();
  }, 60_000);

  test("a kernel panic ends QEMU with guestEnd = panic (pvpanic), the panic on the console", async () => {
    const v = await launch({ name: "panics" });
    try {
      await untilLogged(v, READY);
      await v.console.write("echo c > /proc/sysrq-trigger\n");
      expect(await waitExit(v, 30_000)).toBe(true);
      expect(v.guestEnd).toBe("panic");
      expect(v.exitStatus?.code).toBe(1); // -action panic=exit-failure
      expect(v.consoleTail(40)).toContain("Kernel panic");
    } finally {
      await v.shutdown();
    }
  }, 90_000);
});
