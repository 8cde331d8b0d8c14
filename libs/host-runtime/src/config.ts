// What the host runtime needs of a configuration: profiles to boot, roots to find modules and
// fixtures in, the cache's cap. Loading it (provium.toml) is the CLI's business.
import type { Profile as ImageProfile, ShareOptions } from "@provium/vmm";
import type { DiskSpec } from "./disks";

export interface Profile extends ImageProfile {
  base?: string; // recipes: the recipe this one extends (built-in `debian` or another recipe)
  packages?: string[]; // recipes: packages this one adds
  disks?: DiskSpec[]; // plugged into every VM of the profile before boot() returns
  agentBootTimeoutMs?: number; // how long a booting guest's agent may take to answer
  shares?: ShareOptions[]; // host directories every VM of the profile mounts (virtio-9p)
  qemuArgs?: string[]; // appended to QEMU's command line (unsupported territory)
  warmBoot?: boolean; // false: the profile's VMs always boot cold (no boot template)
}

export interface RuntimeConfig {
  file: string | null;
  dir: string;
  roots: string[];
  cacheDir?: string;
  cacheMaxSize?: string;
  /** [cache] remote = "s3://bucket/prefix", remote_write (default true) */
  remoteCache?: { url: string; write: boolean };
  profiles: Record<string, Profile>;
  /** false: every boot of the run is cold (`--cold-boot`) */
  warmBoot?: boolean;
}

export const builtinProfiles: Record<string, Profile> = {
  // init_on_free: the initrd the kernel frees after unpacking becomes zero pages, which
  // snapshots skip (a third of the memory a snapshot would otherwise carry).
  minimal: { name: "minimal", cmdline: "init_on_free=1", injectAgent: true, origin: "built in" },
  // The host's Debian release on a copy-on-write root disk (see libs/vmm/src/image/boot-image.ts).
  debian: { name: "debian", cmdline: "", injectAgent: true, origin: "built in", rootfs: { packages: ["python3", "curl", "procps"] } },
};

export function unknownProfile(cfg: RuntimeConfig, name: string) {
  const known = Object.keys(cfg.profiles).sort().join(", ");
  const where = cfg.file ? `in ${cfg.file}` : "(no provium.toml found)";
  return `unknown profile '${name}' ${where}; known profiles: ${known}`;
}
