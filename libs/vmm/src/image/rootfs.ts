// Debian root filesystems for guests beyond busybox: mmdebstrap (from the host's own apt
// sources) -> a tarball streamed into a directory -> a raw ext4 image made with `mke2fs -d`.
// The image is a read-only base shared by every VM of a profile; each VM writes to its own
// qcow2 overlay (QemuVm `drives` with `overlay: true`). The agent is not in the image: the
// initramfs carries it and bind-mounts /provium into the root before switching (guest-init.sh),
// so rebuilding the agent never re-runs mmdebstrap.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RemoteCache } from "./remote-cache";
import { MKE2FS, MMDEBSTRAP, requireTool } from "../host-tools";
import { contentKey, DAY_MS, markUsed, pruneCache, tempSibling, type KeyPart } from "./cache-dir";

export interface EnsureRootfsOptions {
  cacheDir: string;
  /** packages on top of mmdebstrap's minbase variant */
  packages: string[];
  /** Debian (or Ubuntu) release codename; default: the host's VERSION_CODENAME */
  release?: string;
  /** default /etc/os-release */
  osRelease?: string;
  /** apt's configuration directory, holding sources.list and sources.list.d/ (default /etc/apt) */
  aptDir?: string;
  /** free space in the image beyond its content (default 1024 MiB; the image file is sparse) */
  freeMiB?: number;
  /** what the messages call this root filesystem (e.g. "profile web") */
  label?: string;
  /** mmdebstrap executable (default: found on PATH; tests use a stand-in) */
  mmdebstrap?: string;
  /**
   * Check the package names against the host's apt lists first (default true; skipped when the
   * lists are missing, or the release or apt dir is not the host's).
   */
  precheck?: boolean;
  onProgress?: (msg: string) => void;
  /** a shared cache behind the local one (provium.toml's [cache] remote) */
  remote?: RemoteCache;
}

export interface Rootfs {
  /** raw ext4 image, read-only: boot it through a copy-on-write overlay */
  image: string;
  key: string;
  release: string;
  packages: string[];
}

const ROOTFS_FORMAT = "provium-rootfs-v1";
// Like Debian's "slim" container images: no man pages, docs or translations (tests never read
// them; they are ~20% of a small system and every byte costs build and boot time).
const DPKG_OPTS = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/locale/*",
  "path-include=/usr/share/locale/locale.alias",
];
// /dev comes from devtmpfs in the guest (and device nodes cannot be made without root).
const EXTRACT = ["tar", "-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--exclude=./dev/*", "-f", "-", "-C"];
// $1 = tree, $2 = image, $3 = free KiB. /provium is where the initramfs bind-mounts the agent.
const MKFS_SCRIPT = `set -eu
mkdir -p "$1/provium" "$1/dev" "$1/proc" "$1/sys" "$1/tmp" "$1/run"
kb=$(du -sk "$1" | cut -f1)
size=$((kb + kb / 5 + $3))
mke2fs -q -F -t ext4 -O ^has_journal -m 0 -L provium-root -E root_owner=0:0 -d "$1" "$2" "\${size}k"
`;

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/;

/** A Debian package name (optionally :arch and =version), else the reason it is not one. */
export function checkPackageName(name: unknown): string | null {
  if (typeof name !== "string") return `package names must be strings, got ${JSON.stringify(name)}`;
  if (!PACKAGE_NAME.test(name)) return `'${name}' is not a Debian package name`;
  return null;
}

/** The host's release codename (VERSION_CODENAME, else the UBUNTU/Debian codename fields). */
export function hostRelease(osRelease = "/etc/os-release"): string {
  let text: string;
  try {
    text = fs.readFileSync(osRelease, "utf8");
  } catch {
    throw new Error(`cannot read ${osRelease}: the debian profile builds the host's own release; on a non-Debian host set up a Debian/Ubuntu machine (or container) to run it`);
  }
  const field = (k: string) => new RegExp(`^${k}=["']?([^"'\\n]*)`, "m").exec(text)?.[1]?.trim();
  const name = field("VERSION_CODENAME") || field("UBUNTU_CODENAME") || field("DEBIAN_CODENAME");
  if (!name) throw new Error(`${osRelease} has no VERSION_CODENAME: cannot tell which Debian release to build (the debian profile needs a Debian or Ubuntu host)`);
  return name;
}

/** The host's apt source files that hold at least one active entry, in apt's order. */
export function hostAptSources(aptDir = "/etc/apt"): string[] {
  const files: string[] = [];
  const main = path.join(aptDir, "sources.list");
  if (fs.existsSync(main)) files.push(main);
  const d = path.join(aptDir, "sources.list.d");
  let names: string[] = [];
  try {
    names = fs.readdirSync(d).sort();
  } catch {}
  for (const n of names) if (/^[A-Za-z0-9_.-]+\.(list|sources)$/.test(n)) files.push(path.join(d, n));
  return files.filter((f) => {
    let text: string;
    try {
      text = fs.readFileSync(f, "utf8");
    } catch {
      return false;
    }
    if (f.endsWith(".list")) return /^\s*deb\s/m.test(text);
    // deb822: a stanza with a "deb" type that is not disabled.
    return text.split(/\n\s*\n/).some((s) => /^Types:.*\bdeb\b/im.test(s) && !/^Enabled:\s*no/im.test(s));
  });
}

function noSources(aptDir: string, release: string): Error {
  return new Error(
    `no apt sources found in ${path.join(aptDir, "sources.list")} or ${path.join(aptDir, "sources.list.d")}/*.{list,sources}: ` +
      `the debian profile builds its root filesystem from the host's apt sources. Configure a mirror, e.g. ${path.join(aptDir, "sources.list.d", "debian.sources")}:\n` +
      `  Types: deb\n  URIs: http://deb.debian.org/debian\n  Suites: ${release} ${release}-updates\n  Components: main\n  Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n` +
      `then run \`apt-get update\``,
  );
}

const SBIN_PATH = `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/sbin:/sbin`;

/** Build (once) or reuse the raw ext4 root filesystem for a release and package list. */
export async function ensureRootfs(opts: EnsureRootfsOptions): Promise<Rootfs> {
  const label = opts.label ?? "debian image";
  for (const p of opts.packages) {
    const bad = checkPackageName(p);
    if (bad) throw new Error(`${label}: ${bad}`);
  }
  const packages = [...new Set(opts.packages)].sort();
  const release = opts.release ?? hostRelease(opts.osRelease);
  const aptDir = opts.aptDir ?? "/etc/apt";
  const sources = hostAptSources(aptDir);
  if (sources.length === 0) throw noSources(aptDir, release);
  const freeKiB = Math.round((opts.freeMiB ?? 1024) * 1024);
  const parts: KeyPart[] = [ROOTFS_FORMAT, release, "minbase", packages.join(","), ...DPKG_OPTS, EXTRACT.join(" "), MKFS_SCRIPT, freeKiB];
  for (const f of sources) parts.push(path.basename(f), fs.readFileSync(f));
  const key = contentKey(parts);

  const dir = path.join(opts.cacheDir, "rootfs");
  const target = path.join(dir, `${key}.img`);
  const result: Rootfs = { image: target, key, release, packages };
  if (fs.existsSync(target)) {
    markUsed(target);
    return result;
  }
  if (opts.precheck !== false && aptDir === "/etc/apt") await precheck(packages, release, sources, label, opts.osRelease);
  const mmdebstrap = opts.mmdebstrap ?? requireTool(MMDEBSTRAP);
  requireTool(MKE2FS);
  fs.mkdirSync(dir, { recursive: true });
  const unlock = await lock(path.join(dir, `${key}.lock`), () => opts.onProgress?.(`${label}: waiting for another build of the same image`));
  try {
    if (fs.existsSync(target)) return result; // built by whoever held the lock
    if (await opts.remote?.fetch(opts.cacheDir, target, opts.onProgress)) return result;
    const t0 = performance.now();
    opts.onProgress?.(`${label}: building ${release} + ${packages.join(", ") || "(minbase)"} with mmdebstrap`);
    await build({ mmdebstrap, release, packages, sources, target, freeKiB, label, onProgress: opts.onProgress });
    opts.onProgress?.(`${label}: built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await opts.remote?.offer(opts.cacheDir, target, opts.onProgress);
    // Images unused for a week go; so do build dirs a crashed build left behind.
    pruneCache(dir, target, [
      { match: (f) => f.endsWith(".img"), afterMs: 7 * DAY_MS },
      { match: (f) => f.includes(".build.tmp-"), afterMs: DAY_MS },
    ], removeTree);
  } finally {
    unlock();
  }
  return result;
}

// A misspelt package would otherwise fail only after mmdebstrap has fetched and unpacked the
// essential set (10-50 s). The host's own apt lists come from the same sources, so when they
// exist (and the release is the host's) a name they do not know at all fails at once.
async function precheck(packages: string[], release: string, sources: string[], label: string, osRelease?: string): Promise<void> {
  if (!packages.length || !Bun.which("apt-cache", { PATH: SBIN_PATH })) return;
  let host: string;
  try {
    host = hostRelease(osRelease);
  } catch {
    return;
  }
  if (host !== release) return;
  try {
    if (!fs.readdirSync("/var/lib/apt/lists").some((f) => f.endsWith("_Packages") || f.includes("_Packages."))) return;
  } catch {
    return;
  }
  const names = packages.map((p) => p.replace(/[=:].*$/, ""));
  const r = Bun.spawn(["apt-cache", "policy", ...names], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  const [out, code] = await Promise.all([new Response(r.stdout).text(), r.exited]);
  if (code !== 0) return;
  const known = new Set([...out.matchAll(/^(\S+):$/gm)].map((m) => m[1]!.replace(/:[a-z0-9]+$/, "")));
  const missing = names.filter((n) => !known.has(n));
  if (missing.length)
    throw new Error(
      `${label}: package ${missing.map((n) => `'${n}'`).join(", ")} not found in the host's apt sources for ${release} (${sources.join(", ")}): ` +
        `check the name (apt-cache policy NAME; run apt-get update if it should exist)`,
    );
}

interface BuildArgs {
  mmdebstrap: string;
  release: string;
  packages: string[];
  sources: string[];
  target: string;
  freeKiB: number;
  label: string;
  onProgress?: (msg: string) => void;
}

// Everything happens in a private dir beside the target; only a complete image is renamed in.
async function build(a: BuildArgs): Promise<void> {
  const work = tempSibling(a.target.replace(/\.img$/, ".build"));
  const tree = path.join(work, "root");
  const img = path.join(work, "root.img");
  fs.mkdirSync(tree, { recursive: true });
  try {
    const cmd = [
      a.mmdebstrap,
      "--variant=minbase",
      "--format=tar",
      ...(a.packages.length ? [`--include=${a.packages.join(",")}`] : []),
      ...DPKG_OPTS.map((o) => `--dpkgopt=${o}`),
      // Resolve the package list before the ~10 s of installing essentials, so a wrong name
      // fails in seconds (names are checked: safe in a shell line).
      ...(a.packages.length ? [`--extract-hook=APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get --simulate --quiet=2 install ${a.packages.join(" ")} >/dev/null`] : []),
      a.release,
      "-",
      ...a.sources,
    ];
    const mm = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C.UTF-8" } });
    const untar = Bun.spawn(asRoot([...EXTRACT, tree]), { stdin: mm.stdout, stdout: "pipe", stderr: "pipe" });
    const [log, mmCode, tarErr, tarCode] = await Promise.all([
      followLog(mm.stderr, (line) => {
        if (line.startsWith("I: ") && !/tempdir|hook|signed-by|architecture|chosen mode/.test(line)) a.onProgress?.(`${a.label}: ${line.slice(3)}`);
      }),
      mm.exited,
      new Response(untar.stderr).text(),
      untar.exited,
    ]);
    if (mmCode !== 0) throw buildError(a, log);
    if (tarCode !== 0) throw new Error(`${a.label}: unpacking mmdebstrap's output failed (${EXTRACT.join(" ")}): ${tarErr.trim().split("\n").slice(-5).join("\n")}`);
    a.onProgress?.(`${a.label}: making the ext4 image (mke2fs -d)`);
    const mk = Bun.spawn(asRoot(["sh", "-c", MKFS_SCRIPT, "sh", tree, img, String(a.freeKiB)]), {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, PATH: SBIN_PATH },
    });
    const [mkOut, mkCode] = await Promise.all([new Response(mk.stderr).text(), mk.exited]);
    if (mkCode !== 0 || !fs.existsSync(img)) throw new Error(`${a.label}: mke2fs failed: ${mkOut.trim().split("\n").slice(-5).join("\n")}`);
    fs.chmodSync(img, 0o444); // a base image is never written: VMs write to their overlays
    fs.renameSync(img, a.target);
  } finally {
    removeTree(work);
  }
}

// Without root, mmdebstrap runs in a user namespace (its unshare mode); the tree it leaves
// belongs to subordinate ids, so unpacking, imaging and removal happen in the same mapping.
function asRoot(cmd: string[]): string[] {
  return process.getuid?.() === 0 ? cmd : ["unshare", "--map-auto", "--map-root-user", ...cmd];
}

function removeTree(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    Bun.spawnSync(asRoot(["rm", "-rf", p]));
  }
}

async function followLog(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<string[]> {
  const keep: string[] = [];
  const dec = new TextDecoder();
  let buf = "";
  const take = (line: string) => {
    keep.push(line);
    if (keep.length > 60) keep.shift();
    onLine(line);
  };
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      take(buf.slice(0, i).trimEnd());
      buf = buf.slice(i + 1);
    }
  }
  if (buf.trim()) take(buf.trimEnd());
  return keep;
}

function buildError(a: BuildArgs, log: string[]): Error {
  const text = log.join("\n");
  const missing = new Set<string>();
  for (const re of [/Unable to locate package (\S+)/g, /Package '([^']+)' has no installation candidate/g, /Couldn't find any package by \w+ '([^']+)'/g, /Package (\S+) is not available/g])
    for (const m of text.matchAll(re)) missing.add(m[1]!);
  const tail = log.filter((l) => !l.startsWith("I: ")).slice(-12).join("\n");
  if (missing.size) {
    const names = [...missing].map((n) => `'${n}'`).join(", ");
    return new Error(`${a.label}: package ${names} not found in the host's apt sources for ${a.release} (${a.sources.join(", ")}): check the name (apt-cache policy NAME)\nmmdebstrap said:\n${tail}`);
  }
  return new Error(`${a.label}: mmdebstrap failed building ${a.release} + ${a.packages.join(", ")}:\n${tail}`);
}

// One builder per image across runner workers and concurrent runs: an O_EXCL lock file
// holding the builder's pid. A lock whose process is gone (crash, SIGKILL) is taken over.
async function lock(file: string, onWait: () => void): Promise<() => void> {
  let told = false;
  for (;;) {
    try {
      const fd = fs.openSync(file, "wx");
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(file, { force: true });
    } catch (e: any) {
      if (e.code !== "EEXIST") throw e;
    }
    const holder = Number(fs.readFileSync(file, "utf8").trim() || NaN);
    if (Number.isInteger(holder) && !alive(holder)) {
      // Two waiters may both see it stale: renaming it away first lets only one remove it.
      const away = tempSibling(file);
      try {
        fs.renameSync(file, away);
        fs.rmSync(away, { force: true });
      } catch {}
      continue;
    }
    if (!told) onWait();
    told = true;
    await Bun.sleep(250);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: any) {
    return e.code === "EPERM";
  }
}


