// The agent on a small read-only disk, for guests that boot a root disk: guest-init mounts it
// on /provium inside the root (`provium.agent=/dev/vdb`). Unpacking the ~110 MB agent from the
// initramfs costs ~0.8 s under TCG; paging it in from a disk costs less, and the root
// filesystem stays free of it, so rebuilding the agent never rebuilds a Debian image.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RemoteCache } from "./remote-cache";
import { contentKey, DAY_MS, hashFile, markUsed, pruneCache, tempSibling, type KeyPart } from "./cache-dir";
import { MKE2FS, requireTool } from "../host-tools";
import { agentLibraries, agentTreeEntries, findStaticBusybox, GUEST_INIT_SCRIPT } from "./initramfs";

export interface EnsureAgentDiskOptions {
  cacheDir: string;
  agentBinary: string;
  busybox?: string;
  initScript?: string;
  onProgress?: (msg: string) => void;
  /** a shared cache behind the local one (provium.toml's [cache] remote) */
  remote?: RemoteCache;
}

export interface AgentDisk {
  /** raw ext4 image whose root is the /provium tree; attach it read-only */
  image: string;
  key: string;
}

const AGENT_DISK_FORMAT = "provium-agent-disk-v1";
const MKE2FS_ARGS = ["-q", "-F", "-t", "ext4", "-O", "^has_journal", "-m", "0", "-L", "provium-agent", "-E", "root_owner=0:0"];
const KEEP = 3;

export async function ensureAgentDisk(opts: EnsureAgentDiskOptions): Promise<AgentDisk> {
  const busybox = findStaticBusybox(opts.busybox);
  const parts: KeyPart[] = [AGENT_DISK_FORMAT, hashFile(opts.agentBinary), hashFile(busybox), opts.initScript ?? GUEST_INIT_SCRIPT, MKE2FS_ARGS.join(" ")];
  const deps = agentLibraries(opts.agentBinary);
  if (deps) for (const f of [deps.interp, ...deps.libs]) parts.push(path.basename(f), hashFile(f));
  const key = contentKey(parts);
  const dir = path.join(opts.cacheDir, "agent-disks");
  const target = path.join(dir, `${key}.img`);
  if (fs.existsSync(target)) {
    markUsed(target);
    return { image: target, key };
  }
  if (await opts.remote?.fetch(opts.cacheDir, target, opts.onProgress)) return { image: target, key };
  const mke2fs = requireTool(MKE2FS);
  opts.onProgress?.(`building agent disk ${key.slice(0, 12)}`);
  fs.mkdirSync(dir, { recursive: true });
  const work = tempSibling(target);
  try {
    let bytes = 0;
    for (const e of agentTreeEntries({ agentBinary: opts.agentBinary, busybox, initScript: opts.initScript })) {
      const p = path.join(work, e.path);
      if (e.type === "dir") fs.mkdirSync(p, { recursive: true, mode: e.mode ?? 0o755 });
      else if (e.type === "file") {
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, e.data, { mode: e.mode ?? 0o644 });
        fs.chmodSync(p, e.mode ?? 0o644);
        bytes += e.data.length;
      }
    }
    const img = path.join(work, "disk.img");
    const sizeKiB = Math.ceil((bytes * 1.1) / 1024) + 4096; // data + metadata slack; read-only, so no free space
    const r = Bun.spawnSync([mke2fs, ...MKE2FS_ARGS, "-d", path.join(work, "provium"), img, `${sizeKiB}k`], { stdout: "pipe", stderr: "pipe" });
    if (!r.success) throw new Error(`mke2fs (agent disk) failed: ${r.stderr.toString().trim()}`);
    fs.chmodSync(img, 0o444);
    fs.renameSync(img, target); // atomic; a concurrent builder's identical image is simply replaced
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  await opts.remote?.offer(opts.cacheDir, target, opts.onProgress);
  // Keep the newest few (one per recent agent build) and any used in the last 10 minutes (another
  // run may be about to boot it); leftovers of a crashed build go after a day. Each is ~125 MB.
  pruneCache(dir, target, [
    { match: (f) => f.endsWith(".img"), afterMs: 10 * 60_000, keepNewest: KEEP - 1 },
    { match: (f) => f.includes(".tmp-"), afterMs: DAY_MS },
  ]);
  return { image: target, key };
}

