// Host-only logic of issue 16: disk sizes and vm:boot options (the real-guest side is in
// tests/devices).
import { expect, test } from "bun:test";
import { bootOptions } from "../src/boot-options";
import { parseDiskSize } from "../src/disks";
import type { Profile } from "../src/config";

const profile: Profile = { name: "p", cmdline: "init_on_free=1", injectAgent: true, origin: "test", agentBootTimeoutMs: 5000 };
const image = { kernel: "k", initrd: "i", cmdline: "provium.agent=/dev/vda init_on_free=1" };

test("disk sizes: bytes or binary units, whole sectors, bounded", () => {
  expect(parseDiskSize("64M")).toBe(64 << 20);
  expect(parseDiskSize("1G")).toBe(1 << 30);
  expect(parseDiskSize("512k")).toBe(512 << 10);
  expect(parseDiskSize(4096)).toBe(4096);
  expect(() => parseDiskSize("3")).toThrow("whole number of 512-byte sectors, got 3 bytes");
  expect(() => parseDiskSize("-1M")).toThrow('disk size must be bytes or a string like "64M" or "1G", got "-1M"');
  expect(() => parseDiskSize(0)).toThrow("disk size must be bytes");
  expect(() => parseDiskSize("99T")).toThrow("is over 16T");
});

test("boot options: the command line keeps Provium's part; replace and append", () => {
  expect(bootOptions({}, profile, 90_000).extras(image).cmdline).toBeUndefined();
  expect(bootOptions({ kernel_cmdline_append: "a=1" }, profile, 90_000).extras(image).cmdline).toBe("provium.agent=/dev/vda init_on_free=1 a=1");
  expect(bootOptions({ kernel_cmdline: "b=2" }, profile, 90_000).extras(image).cmdline).toBe("provium.agent=/dev/vda b=2");
  expect(bootOptions({ kernel_cmdline: "b=2", kernel_cmdline_append: "c=3" }, profile, 90_000).extras(image).cmdline).toBe("provium.agent=/dev/vda b=2 c=3");
});

test("boot options: deadlines, times and seeds", () => {
  expect(bootOptions({}, profile, 90_000).agentDeadlineMs).toBe(5000); // the profile's agent_boot_timeout
  expect(bootOptions({ agent_timeout: 2 }, profile, 90_000).agentDeadlineMs).toBe(2000);
  expect(bootOptions({ initial_time: "2030-01-01T00:00:00Z" }, profile, 1).initialTimeNs).toBe(1893456000n * 1_000_000_000n);
  expect(bootOptions({ initial_time: 1.5 }, profile, 1).extras(image).rtcBase!.getTime()).toBe(1500);
  expect(new TextDecoder().decode(bootOptions({ rng_seed: 42 }, profile, 1).extras(image).rngSeed!)).toBe("42");
  expect(() => bootOptions({ colour: 1, size: 2 }, profile, 1)).toThrow("unknown boot options colour, size (known: files,");
  expect(() => bootOptions({ kernel_cmdline: "a\nb" }, profile, 1)).toThrow("kernel_cmdline has a newline or NUL");
  expect(() => bootOptions({ agent_timeout: -1 }, profile, 1)).toThrow("agent_timeout must be a positive, finite number of seconds, got -1");
  expect(() => bootOptions({ files: ["x"] }, profile, 1)).toThrow('boot option files[1] must be a table {path = ..., content = ..., mode = ...}, got "x"');
});

test("boot options: qemu_args follow the profile's, and must be a list of strings", () => {
  const withArgs: Profile = { ...profile, qemuArgs: ["-device", "virtio-rng-pci"] };
  expect(bootOptions({}, profile, 1).extras(image).qemuArgs).toBeUndefined();
  expect(bootOptions({}, withArgs, 1).extras(image).qemuArgs).toEqual(["-device", "virtio-rng-pci"]);
  // a Lua sequence may cross as an object keyed "1", "2", ...
  expect(bootOptions({ qemu_args: { 1: "-s", 2: "-S" } }, withArgs, 1).extras(image).qemuArgs).toEqual(["-device", "virtio-rng-pci", "-s", "-S"]);
  expect(bootOptions({ qemu_args: ["-s"] }, profile, 1).extras(image).qemuArgs).toEqual(["-s"]);
  expect(() => bootOptions({ qemu_args: "-s" }, profile, 1)).toThrow('boot option qemu_args must be a list of strings (QEMU arguments, e.g. {"-device", "virtio-rng-pci"}), got "-s"');
  expect(() => bootOptions({ qemu_args: ["-m", 512] }, profile, 1)).toThrow("boot option qemu_args must be a list of strings");
});
