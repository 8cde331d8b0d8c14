// Profile keys of issue 16 in provium.toml: cmdline_file with cmdline, disks, agent_boot_timeout,
// and the errors bad values get. Booting with them is covered by tests/devices.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../src/config";

const dir = mkdtempSync(join(tmpdir(), "provium-profile-devices-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const load = (text: string) => {
  const f = join(dir, "provium.toml");
  writeFileSync(f, text);
  return loadConfig(f);
};
const fails = (text: string) => {
  try {
    load(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
};

test("cmdline_file and cmdline combine: the file's words first", () => {
  writeFileSync(join(dir, "cmdline.txt"), "quiet-ish\n  loglevel=3\n");
  const p = load(`[profiles.p]\ncmdline_file = "cmdline.txt"\ncmdline = "provium.x=1"\n`).profiles.p!;
  expect(p.cmdline).toBe("quiet-ish loglevel=3 provium.x=1");
  expect(load(`[profiles.p]\ncmdline_file = "cmdline.txt"\n`).profiles.p!.cmdline).toBe("quiet-ish loglevel=3");
});

test("disks and agent_boot_timeout are read, disk paths relative to the config file", () => {
  const p = load(`[profiles.p]\nagent_boot_timeout = 120\ndisks = [{ size = "64M" }, { path = "data.img", readonly = true, id = "data" }]\n`).profiles.p!;
  expect(p.agentBootTimeoutMs).toBe(120_000);
  expect(p.disks).toEqual([{ size: "64M" }, { path: join(dir, "data.img"), readonly: true, id: "data" }]);
});

test("bad disks and timeouts are refused naming the key", () => {
  expect(fails(`[profiles.p]\ndisks = "64M"\n`)).toContain("profiles.p.disks must be an array");
  expect(fails(`[profiles.p]\ndisks = [{ size = "1M", path = "x" }]\n`)).toContain("profiles.p.disks[1]: give size or path");
  expect(fails(`[profiles.p]\ndisks = [{ size = "1M", colour = "red" }]\n`)).toContain("profiles.p.disks[1]: unknown key 'colour' (known: size, path, readonly, id)");
  expect(fails(`[profiles.p]\ndisks = [{ path = "x", readonly = "yes" }]\n`)).toContain("profiles.p.disks[1].readonly must be true or false");
  expect(fails(`[profiles.p]\nagent_boot_timeout = -1\n`)).toContain("profiles.p.agent_boot_timeout must be a positive number of seconds");
  expect(fails(`[profiles.p]\nagent_boot_timeout = "soon"\n`)).toContain("agent_boot_timeout must be a positive number");
});

test("qemu_args: a list of strings, kept on the profile", () => {
  expect(load(`[profiles.p]\nqemu_args = ["-device", "virtio-rng-pci"]\n`).profiles.p!.qemuArgs).toEqual(["-device", "virtio-rng-pci"]);
  expect(fails(`[profiles.p]\nqemu_args = "-s"\n`)).toContain("profiles.p.qemu_args must be an array of strings");
  expect(fails(`[profiles.p]\nqemu_args = ["-m", 512]\n`)).toContain("profiles.p.qemu_args must be an array of strings");
});
