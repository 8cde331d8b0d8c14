// Debian's cloud kernel: small, boots to userspace in ~2 s under TCG, and its virtio drivers
// are modules we can ship in the initramfs. Fetched with the host's apt (no root needed for
// `apt-get download`) and cached, so only the first run pays for it.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RemoteCache } from "./remote-cache";
import { publish, readJson, atomicWriteFile } from "./cache-dir";
import { aptInstall } from "../host-tools";

export interface DebianKernel {
  /** vmlinuz path */
  kernel: string;
  /** lib/modules/<version> directory */
  moduleDir: string;
  version: string;
}

export interface EnsureKernelOptions {
  cacheDir: string;
  onProgress?: (msg: string) => void;
  /** meta package to resolve (default linux-image-cloud-amd64) */
  metaPackage?: string;
  /** a shared cache behind the local one (provium.toml's [cache] remote) */
  remote?: RemoteCache;
}

interface Marker extends DebianKernel {
  pkg: string;
  resolvedAt: number;
}

// Re-ask apt now and then so a cache picks up kernel updates; a failed refresh keeps the old one.
const REFRESH_MS = 7 * 24 * 3600 * 1000;

const DEFAULT_META = "linux-image-cloud-amd64";
const markerFile = (cacheDir: string, meta: string) => path.join(cacheDir, "kernels", `${meta}.json`);

function cachedMarker(cacheDir: string, meta: string): Marker | undefined {
  const marker = readJson<Marker>(markerFile(cacheDir, meta));
  return marker && fs.existsSync(marker.kernel) && fs.existsSync(marker.moduleDir) ? marker : undefined;
}

/** The kernel already in the cache (however old), if any: a run then needs no apt. */
export function cachedDebianKernel(cacheDir: string, metaPackage = DEFAULT_META): DebianKernel | undefined {
  const m = cachedMarker(cacheDir, metaPackage);
  return m && strip(m);
}

export async function ensureDebianKernel(opts: EnsureKernelOptions): Promise<DebianKernel> {
  const meta = opts.metaPackage ?? DEFAULT_META;
  const root = path.join(opts.cacheDir, "kernels");
  const usable = cachedMarker(opts.cacheDir, meta);
  if (usable && Date.now() - usable.resolvedAt < REFRESH_MS) return strip(usable);

  let pkg: string;
  try {
    pkg = await resolveKernelPackage(meta);
  } catch (e) {
    if (usable) return strip(usable); // offline or apt broken: the cached kernel still works
    throw e;
  }
  const version = pkg.replace(/^linux-image-/, "");
  const dest = path.join(root, pkg);
  const result: DebianKernel = {
    kernel: path.join(dest, "boot", `vmlinuz-${version}`),
    moduleDir: path.join(dest, "lib", "modules", version),
    version,
  };
  if (!fs.existsSync(result.kernel) || !fs.existsSync(result.moduleDir)) {
    if (!(await opts.remote?.fetch(opts.cacheDir, dest, opts.onProgress))) {
      await downloadAndExtract(pkg, root, dest, opts.onProgress);
      await opts.remote?.offer(opts.cacheDir, dest, opts.onProgress);
    }
    if (!fs.existsSync(result.kernel)) throw new Error(`${pkg}: extracted package has no ${path.relative(dest, result.kernel)}`);
  }
  atomicWriteFile(markerFile(opts.cacheDir, meta), JSON.stringify({ ...result, pkg, resolvedAt: Date.now() }, null, 1));
  return result;
}

function strip(m: Marker): DebianKernel {
  return { kernel: m.kernel, moduleDir: m.moduleDir, version: m.version };
}

async function run(cmd: string[], cwd?: string): Promise<{ code: number; out: string; err: string }> {
  let proc;
  try {
    proc = Bun.spawn(cmd, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  } catch (e: any) {
    if (e?.code === "ENOENT" || /ENOENT|not found/i.test(String(e?.message))) {
      throw new Error(`${cmd[0]} not found: install it or set \`kernel\` in a profile`);
    }
    throw e;
  }
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

/** The versioned package `apt-get download` would fetch for the meta package, else an Error saying what to do. */
export async function resolveKernelPackage(meta = DEFAULT_META): Promise<string> {
  const PATH = process.env.PATH ?? "";
  if (!Bun.which("apt-cache", { PATH }) || !Bun.which("apt-get", { PATH }) || !Bun.which("dpkg-deb", { PATH })) {
    throw new Error(`apt-get/apt-cache/dpkg-deb not found: the default kernel is Debian's ${meta}, fetched with \`apt-get download\`; install them (Debian/Ubuntu: ${aptInstall("apt", "dpkg")}) or set \`kernel\` in a profile`);
  }
  // The meta package only depends on the versioned image package, which is what we download.
  const r = await run(["apt-cache", "depends", meta]);
  const m = /Depends:\s*(linux-image-\S+)/.exec(r.out);
  if (r.code !== 0 || !m) {
    throw new Error(`apt-cache cannot resolve ${meta} (${(r.err || r.out).trim() || `exit ${r.code}`}): run \`sudo apt-get update\` (Debian/Ubuntu with the ${meta} package available), or set \`kernel\` in a profile`);
  }
  return m[1]!;
}

async function downloadAndExtract(pkg: string, root: string, dest: string, onProgress?: (m: string) => void): Promise<void> {
  fs.mkdirSync(root, { recursive: true });
  // Work inside the cache dir so the final rename is atomic (same filesystem).
  const work = fs.mkdtempSync(path.join(root, `.dl-${pkg}-`));
  try {
    onProgress?.(`downloading ${pkg} (apt-get download)`);
    const dl = await run(["apt-get", "download", pkg], work);
    const deb = fs.readdirSync(work).find((f) => f.endsWith(".deb"));
    if (dl.code !== 0 || !deb) {
      throw new Error(`apt-get download ${pkg} failed: ${(dl.err || dl.out).trim().split("\n").slice(-3).join(" | ")}\nrun \`apt-get update\` and retry, or set \`kernel\` in a profile`);
    }
    onProgress?.(`extracting ${deb}`);
    const x = path.join(work, "x");
    const ex = await run(["dpkg-deb", "-x", path.join(work, deb), x]);
    if (ex.code !== 0) throw new Error(`dpkg-deb -x ${deb} failed: ${ex.err.trim()}`);
    publish(x, dest);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
