// Warm boots. The first boot of a VM shape (image, kernel, whole command line, memory, vCPUs,
// NICs, accelerator, QEMU) boots cold and, once its agent answers, is saved as that shape's
// boot template in the fixture cache (kind "template", under the same LRU cap); every later boot
// of the shape restores the template instead, in this run or a later one, in any worker. What
// only tells one VM of a shape from another (its NICs' MACs and addresses, boot files, an
// entropy seed, the wall clock) is not part of the shape: it is applied after the restore, and
// to the VM that made the template too. docs/snapshots-and-fixtures.md, "Warm boots".
import { existsSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { bootFileEntries, contentKey, encodeCpio, findQemu, hashFile, kernelCmdline, onProcessExit, type BootImage, type NicOptions, type RemoteCache } from "@provium/vmm";
import type { BuildLock, Entry, FixtureCache } from "@provium/fixture-cache";
import { cacheIdentity, cacheRelative, fetchEntry, fetchMissing, inCache } from "./cache-paths";
import { AgentSilent, type BootExtras, type GuestVm, type VmSnapshot, type WarmStart } from "./guest";
import type { BootPlan } from "./boot-options";
import type { Profile } from "./config";

/** Bumped when what a template holds, or the devices every QEMU gets, change. */
const TEMPLATE_FORMAT = 2;

// Files larger than this are known by their identity on disk: path, inode and size (the image
// cache publishes a rebuilt file under a new name and inode, and touches what it uses, so the
// times say nothing), smaller ones by their bytes (a user's kernel edited in place).
const HASH_MAX = 32 << 20;

// A template that does not load may also leave the agent silent: a warm boot waits this long at
// most before it gives up on the template and boots cold.
const WARM_AGENT_MS = 30_000;

// Paths inside an entry are stored relative to it, so entries can move (as fixtures do).
const ENTRY = "@entry/";

/** Why a boot is cold although warm boots are on (null: it may be warm). */
export type ColdReason = "cold = true" | "warm_boot = false" | "--cold-boot" | "inject_agent = false" | "shares (9p mounts cannot be saved)" | "qemu_args" | "--gdb" | null;

export interface TemplateMeta {
  format: number;
  profile: string;
  snapshot: VmSnapshot;
  /** the template's console log at the save: a clone's log starts with it */
  console: string;
  /** the MACs of the template's NICs, in order: a clone's interfaces are found by them */
  macs: string[];
  /** the size and mtime of the stream and of the memory file when saved: a template whose
   *  files changed since (truncated, written over) is not used */
  saved: Record<string, { bytes: number; mtimeMs: number }>;
}

export interface BootedInfo {
  vm: string;
  profile: string;
  warm: boolean;
  boot_ms: number;
  /** the template's key (first 16 hex digits) when one was restored or saved */
  template?: string;
  /** a cold boot's reason when warm boots are on: "no template yet", "cold = true", ... */
  cold_reason?: string;
  /** a cold boot that saved its shape's template: how long the save took */
  template_saved_ms?: number;
}

export interface TemplateHost {
  /** the fixture cache, where templates are indexed beside fixtures */
  cache: () => FixtureCache;
  emit: (kind: string, fields: Record<string, unknown>) => void;
  /** false under --cold-boot */
  enabled: boolean;
  cacheDir: string;
  /** the shared remote cache: a template missing here is looked up there, a saved one uploaded */
  remote?: RemoteCache;
}

const identityMemo = new Map<string, string>();

// A file as a key part: its bytes' digest, or for a large one its identity on disk.
function localIdentity(file: string): string {
  const st = statSync(file, { bigint: true });
  if (st.size <= HASH_MAX) return hashFile(file);
  return `${file}:${st.dev}:${st.ino}:${st.size}`;
}

function qemuIdentity(): string {
  const qemu = findQemu();
  let id = identityMemo.get(qemu);
  if (!id) identityMemo.set(qemu, (id = localIdentity(qemu)));
  return id;
}

/**
 * The key of a VM's shape: everything a guest booted from it could tell apart. NICs count by
 * number (their MACs and addresses are applied after the restore), so the command line is
 * taken without their `provium.net=` words; boot files, rng_seed and initial_time are not in it.
 */
export function templateKey(o: { image: BootImage; cmdline: string; memoryMiB: number; cpus: number; nics: number; accel: "kvm" | "tcg"; cacheDir: string }): string {
  const { image } = o;
  // Files of the cache by their paths there, so that one shape has one key on every machine.
  const fileIdentity = (f: string) => cacheIdentity(f, o.cacheDir, localIdentity);
  return contentKey([
    "boot-template",
    TEMPLATE_FORMAT,
    qemuIdentity(),
    o.accel,
    fileIdentity(image.kernel),
    image.initrd ? fileIdentity(image.initrd) : null,
    JSON.stringify((image.drives ?? []).map((d) => ({ ...d, file: fileIdentity(d.file) }))),
    kernelCmdline({ accel: o.accel, cmdline: o.cmdline }),
    o.memoryMiB,
    o.cpus,
    o.nics,
  ]);
}

export class BootTemplates {
  constructor(private readonly host: TemplateHost) {}

  /** Why `vm` of `profile` booted with `plan` is cold whatever the cache holds, or null. */
  coldReason(profile: Profile, plan: BootPlan, extras: BootExtras, vm: GuestVm): ColdReason {
    if (plan.cold) return "cold = true";
    if (profile.warmBoot === false) return "warm_boot = false";
    if (!this.host.enabled) return "--cold-boot";
    // The agent of a user's own initrd may not be one that reseeds a clone's randomness.
    if (!profile.injectAgent) return "inject_agent = false";
    // QEMU cannot save a guest with a 9p mount; arguments we do not know may be state a
    // template would not carry; a debugger wants the boot itself.
    if (extras.shares?.length) return "shares (9p mounts cannot be saved)";
    if (extras.qemuArgs?.length) return "qemu_args";
    if (vm.spec.gdb) return "--gdb";
    return null;
  }

  /**
   * Boots `vm`: from its shape's template when there is one, else cold (saving the template
   * when no other worker is saving it now). Emits `vm_booted`.
   */
  async boot(vm: GuestVm, image: BootImage, accel: "kvm" | "tcg", plan: BootPlan, profile: Profile) {
    const t0 = performance.now();
    const extras = plan.extras(image);
    const booted = (info: Partial<BootedInfo>) =>
      this.host.emit("vm_booted", { vm: vm.spec.name, profile: profile.name, warm: false, boot_ms: Math.round(performance.now() - t0), ...info });
    const reason = this.coldReason(profile, plan, extras, vm);
    if (reason) {
      await vm.boot(image, accel, plan.agentDeadlineMs, extras);
      return booted({ cold_reason: reason });
    }
    const nics = vm.spec.nics ?? [];
    const key = templateKey({ image, cmdline: extras.cmdline ?? image.cmdline, memoryMiB: vm.spec.memoryMiB, cpus: vm.spec.cpus, nics: nics.length, accel, cacheDir: this.host.cacheDir });
    const short = key.slice(0, 16);
    const cache = this.host.cache();
    let claim = cache.tryLock(key);
    if (claim && "lock" in claim) claim = (await this.fromRemote(key, claim.lock)) ?? claim;
    if (claim && "entry" in claim) {
      const warm = await this.warmStart(claim.entry);
      if (typeof warm !== "string") {
        try {
          await vm.bootWarm(warm, Math.min(plan.agentDeadlineMs, WARM_AGENT_MS));
        } catch (e) {
          // The boot's own deadline passed (shorter than a template is given): as a cold boot's would.
          if (e instanceof AgentSilent && plan.agentDeadlineMs <= WARM_AGENT_MS) await vm.shutdown();
          if (vm.state !== "created") throw e;
          this.warn(profile, short, `did not load (${(e as Error).message.split("\n")[0]})`);
        }
        if (vm.state === "booted") {
          await personalize(vm, extras, { macs: warm.macs, nics });
          return booted({ warm: true, template: short });
        }
      } else this.warn(profile, short, warm);
      cache.remove(key);
      claim = cache.tryLock(key);
    }
    if (!claim || "entry" in claim) {
      // Another worker is saving this shape's template right now: waiting for it would cost
      // what a cold boot does.
      await vm.boot(image, accel, plan.agentDeadlineMs, extras);
      return booted({ cold_reason: "the template is being saved elsewhere" });
    }
    const saved = await this.makeTemplate(vm, image, accel, plan, extras, profile, key, claim.lock);
    await personalize(vm, extras, { macs: null, nics });
    booted({ cold_reason: "no template yet", template: short, template_saved_ms: saved });
  }

  // The maker boots the shape alone (no boot files, seed or RTC start: those are applied after,
  // as on a clone), is saved while its agent idles, then runs on. Returns the save's ms.
  private async makeTemplate(vm: GuestVm, image: BootImage, accel: "kvm" | "tcg", plan: BootPlan, extras: BootExtras, profile: Profile, key: string, lock: BuildLock) {
    const cache = this.host.cache();
    const staged = cache.stagingDir();
    // Ctrl-C (or any exit) while the template is written leaves no template: the staging dir
    // goes, and the lock (a killed process's staging dir goes when the cache is next opened).
    const forget = onProcessExit(() => {
      rmSync(staged, { recursive: true, force: true });
      lock.release();
    });
    try {
      const mapped = process.env.PROVIUM_TEMPLATE_MEMORY !== "stream";
      await vm.boot(image, accel, plan.agentDeadlineMs, { cmdline: extras.cmdline, ...(mapped ? { memoryFile: { shared: true as const } } : {}) });
      const t = performance.now();
      const age = templateAgeHook();
      if (age) await setGuestClock(vm, Date.now() - age * 1000);
      const snap = await vm.snapshot(staged, { file: join(staged, "memory"), spare: false, ...(mapped ? { ramTo: join(staged, "ram") } : {}) });
      if (age) await setGuestClock(vm, Date.now());
      const consoleLog = join(staged, "console.log");
      await Bun.write(consoleLog, vm.machine().console.readLog());
      const saved = Object.fromEntries([snap.memory, ...(snap.ram ? [snap.ram] : [])].map((f) => [basename(f), { bytes: statSync(f).size, mtimeMs: statSync(f).mtimeMs }]));
      const meta: TemplateMeta = {
        format: TEMPLATE_FORMAT,
        profile: profile.name,
        snapshot: { ...snap, spec: { ...snap.spec, nics: undefined } },
        console: consoleLog,
        macs: (vm.spec.nics ?? []).map((n) => n.mac),
        saved,
      };
      const name = `${profile.name} ${vm.spec.memoryMiB}M ${vm.spec.cpus}cpu${meta.macs.length ? ` ${meta.macs.length}nic` : ""}`;
      const stored = cacheRelative(JSON.parse(JSON.stringify(meta).replaceAll(staged + "/", ENTRY)), this.host.cacheDir);
      const entry = cache.commit(key, name, staged, stored, "template");
      const ms = Math.round(performance.now() - t);
      await this.host.remote?.offerAs(`templates/${key}`, entry.dir, this.progress, { name, meta: stored });
      return ms;
    } catch (e) {
      rmSync(staged, { recursive: true, force: true });
      throw e;
    } finally {
      forget();
      lock.release();
    }
  }

  private readonly progress = (message: string) => this.host.emit("progress", { message });

  // The remote cache's copy of template `key`, made an entry here (its files' times are this
  // machine's: the download was checked against its digest instead), and the build lock given
  // back; null when it has none (the lock still held, for the cold boot that saves it).
  private async fromRemote(key: string, lock: BuildLock): Promise<{ entry: Entry } | null> {
    const remote = this.host.remote;
    if (!remote) return null;
    try {
      const entry = await fetchEntry({ cache: this.host.cache(), remote, rel: `templates/${key}`, key, kind: "template", onProgress: this.progress }, (staged, record) => {
        const { name, meta } = (record ?? {}) as { name?: string; meta?: TemplateMeta };
        if (!meta?.saved) return null;
        for (const [file, was] of Object.entries(meta.saved)) {
          const st = statSync(join(staged, file));
          if (st.size !== was.bytes) return null;
          was.mtimeMs = st.mtimeMs;
        }
        return { name: name ?? key.slice(0, 16), meta };
      });
      if (!entry) return null;
      lock.release();
      return { entry };
    } catch (e) {
      this.progress(`warning: boot template ${key.slice(0, 16)}: the remote cache's copy is unusable (${(e as Error).message}); booting cold`);
      return null;
    }
  }


  // What a warm boot restores from an entry, or why the entry is unusable.
  private async warmStart(entry: Entry): Promise<(WarmStart & { macs: string[] }) | string> {
    const meta: TemplateMeta = inCache(JSON.parse(JSON.stringify(entry.meta).replaceAll(ENTRY, entry.dir + "/")), this.host.cacheDir);
    if (meta.format !== TEMPLATE_FORMAT) return "is of an older format";
    const snap = meta.snapshot;
    const files = [snap.memory, meta.console, ...(snap.ram ? [snap.ram] : []), snap.image.kernel, snap.image.initrd, ...(snap.image.drives ?? []).map((d) => d.file)];
    await fetchMissing(files, this.host.cacheDir, this.host.remote, this.progress);
    const missing = files.find((f) => !existsSync(f));
    if (missing) return `is incomplete (${missing} is missing)`;
    for (const [name, was] of Object.entries(meta.saved ?? {})) {
      const st = statSync(join(entry.dir, name));
      if (st.size !== was.bytes || st.mtimeMs !== was.mtimeMs) return `was changed after it was saved (its file ${name} is ${st.size} bytes, saved as ${was.bytes})`;
    }
    return { snap, consoleLog: meta.console, macs: meta.macs };
  }

  private warn(profile: Profile, key: string, why: string) {
    this.host.emit("progress", { message: `warning: boot template ${key} (profile ${profile.name}) ${why}; booting cold and saving it anew` });
  }
}

// Tests age a template on purpose (PROVIUM_TEST_HOOKS=1, PROVIUM_TEST_AGE_TEMPLATE_S): its guest
// clock is set that far back before the save, as if it had been saved that long ago.
function templateAgeHook(): number {
  return process.env.PROVIUM_TEST_HOOKS === "1" ? Number(process.env.PROVIUM_TEST_AGE_TEMPLATE_S ?? 0) || 0 : 0;
}

const setGuestClock = (vm: GuestVm, ms: number) => vm.ready().call({ clock: { set: (BigInt(ms) * 1_000_000n) as unknown as number } });

/**
 * What tells this VM from others of its shape, applied once its agent answers, in one command:
 * a clone's NICs get their own MACs and addresses (found by the template's MACs; down and up, so
 * IPv6 link-local addresses follow the new MAC), and boot files and the rng_seed go into place
 * as guest-init would have put them (an archive unpacked under /run, then copied in place with
 * missing parents made). `macs` null: the VM made the template and has its own NICs already.
 */
async function personalize(vm: GuestVm, extras: BootExtras, o: { macs: string[] | null; nics: NicOptions[] }) {
  const lines: string[] = [];
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  if (o.macs && o.nics.length) {
    // Every interface is found before any MAC changes (a new MAC may be another's old one).
    o.nics.forEach((_, i) => {
      lines.push(`d${i}=; for d in /sys/class/net/*; do read -r a < $d/address; [ "$a" = ${q(o.macs![i]!)} ] && d${i}=\${d##*/}; done`);
      lines.push(`[ -n "$d${i}" ] || { echo "no interface with the template's MAC ${o.macs![i]}" >&2; exit 1; }`);
    });
    o.nics.forEach((n, i) => {
      const dev = `"$d${i}"`;
      lines.push(`$bb ip link set ${dev} down && $bb ip link set ${dev} address ${q(n.mac)} && $bb ip addr flush dev ${dev} && ${n.address ? `$bb ip addr add ${q(n.address)} dev ${dev} && ` : ""}$bb ip link set ${dev} up || exit 1`);
    });
  }
  const files = extras.bootFiles ?? [];
  let archive: Uint8Array | undefined;
  if (files.length || extras.rngSeed?.length) {
    archive = encodeCpio(bootFileEntries(files, extras.rngSeed));
    lines.push(
      "w=/run/provium-warm; $bb rm -rf $w; $bb mkdir -p $w && cd $w && $bb cpio -idmu 2>/dev/null || exit 1",
      "[ -e provium-rng-seed ] && $bb cat provium-rng-seed > /dev/urandom",
      "[ -d provium-files ] && (cd provium-files && $bb find . ! -type d) | while IFS= read -r f; do $bb mkdir -p \"/${f%/*}\" && $bb cp -a \"$w/provium-files/$f\" \"/$f\" || exit 1; done || exit 1",
      "cd / && $bb rm -rf $w",
    );
  }
  if (!lines.length) return;
  const script = ["bb=/provium/bin/busybox", ...lines].join("\n");
  const r = await vm.ready().call({ exec: { argv: ["/provium/bin/busybox", "sh", "-c", script], stdin: archive } });
  if (r.exitCode !== 0 || r.signal)
    throw new Error(`vm ${vm.spec.name}: applying its NICs and boot files after a warm boot failed (exit ${r.exitCode}): ${new TextDecoder().decode(r.stderr).trim()}`);
}
