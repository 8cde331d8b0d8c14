// `provium doctor` and the checks a run makes before it starts: a host without QEMU gets one
// clear sentence with the install command, from doctor and from a run alike, and never a stack
// trace. "Without QEMU" is a PATH holding links to every other program these commands use.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { QEMU_MISSING } from "@provium/vmm";
import { loadConfig } from "../src/config";
import { needsOf, profilesInPlay } from "../src/host-checks";

const main = resolve(import.meta.dir, "../src/main.ts");
const OTHER_TOOLS = ["bun", "apt-get", "apt-cache", "dpkg-deb", "qemu-img", "zstd", "mmdebstrap", "busybox"];

let dir: string; // a project: one test file that boots a VM, no provium.toml
let noQemuPath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provium-doctor-"));
  noQemuPath = join(dir, "bin");
  Bun.spawnSync(["mkdir", noQemuPath]);
  for (const t of OTHER_TOOLS) {
    const p = Bun.which(t);
    if (p) symlinkSync(p, join(noQemuPath, t));
  }
  writeFileSync(join(dir, "one.test.lua"), 'local vm = provium:vm("v", "minimal"):boot()\ntest("echo", function(t) t:assert_eq(vm:run("echo hi").stdout, "hi\\n") end)\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function provium(args: string[], PATH = process.env.PATH!) {
  const env: Record<string, string | undefined> = { ...process.env, PATH, PROVIUM_QEMU: undefined };
  const p = Bun.spawn([process.execPath, main, ...args], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}

describe("provium doctor", () => {
  test("without QEMU: the sentence with the install command, and a non-zero exit", async () => {
    const r = await provium(["doctor"], noQemuPath);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✗ QEMU +qemu-system-x86_64 not found: install it \(Debian\/Ubuntu: sudo apt-get install -y qemu-system-x86\)$/m);
    expect(r.stdout).toContain("tests cannot run on this host: QEMU missing");
    expect(r.stdout).not.toContain("\x1b["); // not a TTY: plain text
  });

  test("with the normal PATH: QEMU's version and exit 0", async () => {
    const r = await provium(["doctor"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^✓ QEMU +\d+\.\d+\.\d+ \(\/\S+qemu-system-x86_64\)$/m);
    expect(r.stdout).toMatch(/^[✓!] KVM /m);
    expect(r.stdout).toMatch(/^✓ Bun +\d+\.\d+\.\d+ /m);
    expect(r.stdout).toContain("tests can run on this host");
    expect(r.code).toBe(0);
  }, 30_000);
});

describe("a run on a host without QEMU", () => {
  test("stops before any worker with doctor's sentence, exit 2, no stack trace, no VM", async () => {
    const r = await provium(["one.test.lua", "--json"], noQemuPath);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`provium: ${QEMU_MISSING}\n`);
    expect(r.stderr + r.stdout).not.toMatch(/^ {4}at /m);
    const kinds = r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l).kind);
    expect(kinds).toEqual(["run_started"]); // no file started, no VM spawned
    const doctor = await provium(["doctor"], noQemuPath);
    expect(doctor.stdout).toContain(QEMU_MISSING); // one sentence, both places
  });

  test("`provium list` boots nothing, so it needs no QEMU", async () => {
    const r = await provium(["list", "one.test.lua"], noQemuPath);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("one.test.lua › echo");
  });
});

describe("what a project's profiles need", () => {
  const project = (toml: string) => {
    const d = mkdtempSync(join(tmpdir(), "provium-needs-"));
    writeFileSync(join(d, "provium.toml"), toml);
    try {
      return loadConfig(join(d, "provium.toml"));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  };

  test("no provium.toml: the built-in minimal, so busybox and the kernel but no Debian tools", () => {
    const needs = needsOf(loadConfig(null, dir));
    expect(needs).toMatchObject({ busybox: true, mke2fs: true, kernel: true, debian: false, fixtures: false });
  });

  test("a recipe on debian needs the Debian tools", () => {
    expect(needsOf(project('[profiles.web]\nbase = "debian"\npackages = ["curl"]\n')).debian).toBe(true);
  });

  test("a project that brings its own guests (inject_agent = false) needs no busybox", () => {
    const cfg = project('[profiles.own]\nkernel = "/k"\ninitrd = "/i"\ninject_agent = false\n');
    expect(profilesInPlay(cfg).map((p) => p.name)).toEqual(["own"]);
    expect(needsOf(cfg)).toMatchObject({ busybox: false, mke2fs: false, kernel: false, debian: false });
  });
});
