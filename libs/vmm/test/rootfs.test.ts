// Debian root filesystems: caching, the build lock, failures that leave nothing behind, and
// the bad-input errors. A stand-in mmdebstrap keeps most of these fast; one test runs the
// real one against the host's apt sources to check that a missing package is named.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureAgentDisk, ensureRootfs, hostAptSources, hostRelease, type EnsureRootfsOptions } from "../src/index";
import { FIXTURES, HELLO_AGENT, removeTempDirs, tempDir } from "./helpers";

const FAKE = path.join(FIXTURES, "fake-mmdebstrap.sh");
let dir: string;
let log: string;

beforeAll(() => {
  dir = tempDir("rootfs");
  log = path.join(dir, "mm.log");
  process.env.FAKE_MM_LOG = log;
});
afterAll(() => {
  delete process.env.FAKE_MM_LOG;
  delete process.env.FAKE_MM_SLEEP;
  removeTempDirs();
});

const runs = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean).length : 0);
const entries = (cache: string) => (fs.existsSync(path.join(cache, "rootfs")) ? fs.readdirSync(path.join(cache, "rootfs")) : []);
const fake = (cache: string, extra: Partial<EnsureRootfsOptions> = {}): EnsureRootfsOptions => ({ cacheDir: cache, packages: ["curl"], release: "bookworm", mmdebstrap: FAKE, precheck: false, ...extra });
function catFile(image: string, file: string): string {
  const r = Bun.spawnSync(["debugfs", "-R", `cat ${file}`, image], { stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  return r.stdout.toString();
}

describe("ensureRootfs", () => {
  test("builds an ext4 image once, reports progress, and reuses it for the same inputs", async () => {
    const cache = tempDir("rootfs-cache");
    const before = runs();
    const progress: string[] = [];
    const a = await ensureRootfs(fake(cache, { packages: ["python3", "curl", "python3"], onProgress: (m) => progress.push(m) }));
    expect(a.packages).toEqual(["curl", "python3"]); // sorted, deduplicated: part of the key
    expect(path.dirname(a.image)).toBe(path.join(cache, "rootfs"));
    expect(catFile(a.image, "/etc/fake-release")).toContain("--include=curl,python3");
    expect(fs.statSync(a.image).mode & 0o222).toBe(0); // a base image is never written
    expect(progress.some((m) => m.includes("downloading packages"))).toBe(true);
    expect(progress.some((m) => m.includes("mke2fs"))).toBe(true);
    const again = await ensureRootfs(fake(cache, { packages: ["curl", "python3"] }));
    expect(again.image).toBe(a.image);
    expect(runs()).toBe(before + 1);
    const other = await ensureRootfs(fake(cache, { packages: ["curl", "python3", "jq"] }));
    expect(other.key).not.toBe(a.key);
    expect(entries(cache).sort()).toEqual([path.basename(a.image), path.basename(other.image)].sort()); // nothing else left
  });

  test("concurrent builds of the same image run mmdebstrap once and both get it", async () => {
    const cache = tempDir("rootfs-race");
    const before = runs();
    process.env.FAKE_MM_SLEEP = "1";
    try {
      const waits: string[] = [];
      const [a, b] = await Promise.all([ensureRootfs(fake(cache)), ensureRootfs(fake(cache, { onProgress: (m) => waits.push(m) }))]);
      expect(a.image).toBe(b.image);
      expect(runs()).toBe(before + 1);
      expect(waits.join("\n")).toContain("waiting for another build");
      expect(entries(cache)).toEqual([path.basename(a.image)]);
    } finally {
      delete process.env.FAKE_MM_SLEEP;
    }
  });

  test("a lock left by a dead process is taken over", async () => {
    const cache = tempDir("rootfs-stale");
    const dead = Bun.spawnSync(["sh", "-c", "echo $$"]).stdout.toString().trim();
    // Find the key the build would lock by building once elsewhere with the same inputs.
    const ref = await ensureRootfs(fake(tempDir("rootfs-ref")));
    fs.mkdirSync(path.join(cache, "rootfs"), { recursive: true });
    fs.writeFileSync(path.join(cache, "rootfs", `${ref.key}.lock`), dead);
    const r = await ensureRootfs(fake(cache));
    expect(r.key).toBe(ref.key);
    expect(entries(cache)).toEqual([`${ref.key}.img`]);
  });

  test("a failed build names the package and caches nothing", async () => {
    const cache = tempDir("rootfs-fail");
    const err = await ensureRootfs(fake(cache, { packages: ["curl", "nosuch-thing"], label: "profile web" })).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain("profile web: package 'nosuch-thing' not found in the host's apt sources for bookworm");
    expect(entries(cache)).toEqual([]); // no image, no build dir, no lock
  });

  test("a package the host's apt lists do not know fails at once, before mmdebstrap", async () => {
    const cache = tempDir("rootfs-pre");
    const t0 = performance.now();
    const err = await ensureRootfs({ cacheDir: cache, packages: ["python3", "nosuch-provium-package"], label: "profile web", mmdebstrap: "/nonexistent" }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain("profile web: package 'nosuch-provium-package' not found in the host's apt sources for");
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(entries(cache)).toEqual([]);
  });

  test("the real mmdebstrap: a package that does not exist fails, named, with nothing cached", async () => {
    const cache = tempDir("rootfs-real");
    const t0 = performance.now();
    const err = await ensureRootfs({ cacheDir: cache, packages: ["python3", "nosuch-provium-package"], label: "profile web", precheck: false }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain("package 'nosuch-provium-package' not found in the host's apt sources");
    expect(err.message).toContain("Unable to locate package nosuch-provium-package");
    expect(entries(cache)).toEqual([]);
    console.error(`[measure] real mmdebstrap failure reported after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, 180_000);

  test("no apt sources: says what to configure", async () => {
    const apt = tempDir("apt");
    fs.mkdirSync(path.join(apt, "sources.list.d"));
    fs.writeFileSync(path.join(apt, "sources.list"), "# deb http://deb.debian.org/debian bookworm main\n");
    fs.writeFileSync(path.join(apt, "sources.list.d", "off.sources"), "Types: deb\nURIs: http://x\nSuites: bookworm\nEnabled: no\n");
    fs.writeFileSync(path.join(apt, "sources.list.d", "other.list.disabled"), "deb http://x bookworm main\n");
    expect(hostAptSources(apt)).toEqual([]);
    const cache = tempDir("rootfs-nosrc");
    const err = await ensureRootfs(fake(cache, { aptDir: apt })).catch((e) => e);
    expect(err.message).toContain(`no apt sources found in ${apt}/sources.list or ${apt}/sources.list.d`);
    expect(err.message).toContain("URIs: http://deb.debian.org/debian");
    expect(err.message).toContain("Suites: bookworm");
    expect(entries(cache)).toEqual([]);
    fs.writeFileSync(path.join(apt, "sources.list.d", "on.sources"), "Types: deb\nURIs: http://x\nSuites: bookworm\nComponents: main\n");
    expect(hostAptSources(apt)).toEqual([path.join(apt, "sources.list.d", "on.sources")]);
  });

  test("the release is the host's codename; an os-release without one is a clear error", () => {
    const f = path.join(dir, "os-release");
    fs.writeFileSync(f, 'NAME="Debian GNU/Linux"\nVERSION_CODENAME=trixie\n');
    expect(hostRelease(f)).toBe("trixie");
    fs.writeFileSync(f, 'NAME="Something"\nID=other\n');
    expect(() => hostRelease(f)).toThrow("has no VERSION_CODENAME");
    expect(() => hostRelease(path.join(dir, "nope"))).toThrow("cannot read");
  });

  test("package names are checked before anything runs", async () => {
    const err = await ensureRootfs(fake(tempDir("rootfs-bad"), { packages: ["--foo"] })).catch((e) => e);
    expect(err.message).toContain("'--foo' is not a Debian package name");
  });
});

describe("ensureAgentDisk", () => {
  test("a read-only ext4 image of the /provium tree, cached by the agent", async () => {
    const cache = tempDir("agent-disk");
    const agent = path.join(dir, "agent.sh");
    fs.copyFileSync(HELLO_AGENT, agent);
    const a = await ensureAgentDisk({ cacheDir: cache, agentBinary: agent });
    expect(catFile(a.image, "/agent")).toBe(fs.readFileSync(agent, "utf8"));
    expect(catFile(a.image, "/init")).toStartWith("#!/provium/bin/busybox sh");
    expect(fs.statSync(a.image).mode & 0o222).toBe(0);
    expect((await ensureAgentDisk({ cacheDir: cache, agentBinary: agent })).image).toBe(a.image);
    fs.appendFileSync(agent, "# changed\n");
    expect((await ensureAgentDisk({ cacheDir: cache, agentBinary: agent })).key).not.toBe(a.key);
  });
});
