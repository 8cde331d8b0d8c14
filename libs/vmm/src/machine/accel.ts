// Picking KVM or TCG. /dev/kvm being openable is not enough: under nested virtualisation KVM
// can accept a VM and then hang it forever on the switch to protected mode (measured on the
// build machine). So "auto" runs a tiny probe guest under KVM with a deadline and falls back to
// TCG when the guest does not prove it got to 64-bit mode.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { atomicWriteFile, readJson } from "../image/cache-dir";
import { findQemu } from "../host-tools";
import { onProcessExit } from "./exit-cleanup";
import { ownedTempDir } from "./sweep";

export type Accel = "kvm" | "tcg";
export type AccelRequest = "auto" | Accel;

export interface ChooseAccelOptions {
  cacheDir: string;
  /** how long the KVM probe guest gets to print its marker (default 4000 ms) */
  probeTimeoutMs?: number;
  /** injectable for tests (default /dev/kvm) */
  kvmDevice?: string;
  qemuBinary?: string;
  onProgress?: (msg: string) => void;
}

/**
 * QEMU arguments for an accelerator. TCG gets multi-threaded translation and every CPU feature
 * but ERMS: with it the guest kernel copies to and from user memory with `rep movsb`, which TCG
 * runs a byte per iteration; without it, `rep movsq`. Measured in a guest (bench/in-guest.ts):
 * lstat 22 -> 12 us, a 1 MiB read_file 12 -> 4.2 ms, the raw 1 MiB echo 8.7 -> 2.7 ms.
 */
export function accelArgs(accel: Accel): string[] {
  return accel === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max,-erms"];
}

/**
 * Kernel arguments for an accelerator, before the guest's own. Under TCG the clocksource
 * watchdog finds the TSC skewed while the kernel boots and falls back to acpi_pm, whose every
 * read is a syscall and an emulated port read: a clock read (Bun reads it on every turn of its
 * event loop) went 2.4 -> 1.0 us with tsc=reliable. A guest's own cmdline can say otherwise.
 *
 * `provium.noftl` tells guest-init to start the agent without JSC's top tier (FTL). Under TCG
 * an FTL compile of one small agent function takes 100-700 ms of the guest's only vCPU (the
 * compiler's own code runs translated), and a function gets there after ~7,000 calls: a batch
 * of 100 stats pushes some 30 of them over, and for hundreds of batches the compiler thread
 * took half the guest's CPU (a 100-stat batch served in 2.3-6.2 ms with it, 1.9-2.8 ms
 * without, measured in the guest after 2,000 stats and 300 batches). The DFG tier stays.
 */
export function accelCmdline(accel: Accel): string {
  return accel === "tcg" ? "tsc=reliable provium.noftl" : "";
}

/** Can we open the KVM device read-write? Returns the reason when not. */
export function kvmUsable(device = "/dev/kvm"): { ok: true } | { ok: false; reason: string } {
  try {
    fs.closeSync(fs.openSync(device, "r+")); // read-write, as QEMU opens it
    return { ok: true };
  } catch (e: any) {
    return { ok: false, reason: e?.code ?? String(e) };
  }
}

/** What makes KVM usable, for an unusable device's reason (its errno code) or "probe-failed". */
export function kvmFix(reason: string, device = "/dev/kvm"): string {
  if (reason === "EACCES" || reason === "EPERM") return `let your user open ${device} read-write: sudo usermod -aG kvm $USER, then log in again`;
  if (reason === "probe-failed")
    return "enable nested virtualization on the outer host (kvm_intel nested=1 or kvm_amd nested=1, in /etc/modprobe.d), or run on bare metal";
  return `enable virtualization (VT-x/AMD-V) in the firmware, or nested virtualization for this VM, and load the module: sudo modprobe kvm_intel (or kvm_amd)`;
}

export type KvmStatus = { kind: "usable" } | { kind: "unavailable"; reason: string } | { kind: "probe-failed" };

const VERDICT_TTL_MS = 24 * 3600 * 1000;
const sessionVerdicts = new Map<string, Accel>();

interface VerdictFile {
  [key: string]: { accel: Accel; at: number };
}

export async function chooseAccel(request: AccelRequest, opts: ChooseAccelOptions): Promise<Accel> {
  const env = process.env.PROVIUM_ACCEL;
  if (env) {
    if (env !== "auto" && env !== "kvm" && env !== "tcg") throw new Error(`PROVIUM_ACCEL=${env}: expected auto, kvm or tcg`);
    request = env;
  }
  if (request === "tcg") return "tcg";
  if (request === "kvm") {
    const device = opts.kvmDevice ?? "/dev/kvm";
    const usable = kvmUsable(device);
    if (!usable.ok) {
      throw new Error(`accel "kvm" requested but ${device} is not usable (${usable.reason}): ${kvmFix(usable.reason, device)}; or use accel "auto"/"tcg"`);
    }
    return "kvm";
  }
  return (await kvmStatus(opts)).kind === "usable" ? "kvm" : "tcg";
}

/**
 * Whether KVM works here: the device opens read-write and a probe guest reaches long mode under
 * it before the deadline ("probe-failed": it hung, or QEMU refused the vCPU, both seen under
 * nested virtualization). The probe's verdict is remembered (in the process and in the cache
 * dir, a day) per QEMU build, host kernel and device.
 */
export async function kvmStatus(opts: ChooseAccelOptions): Promise<KvmStatus> {
  const device = opts.kvmDevice ?? "/dev/kvm";
  const usable = kvmUsable(device);
  if (!usable.ok) return { kind: "unavailable", reason: usable.reason };
  const verdict = await probedVerdict(device, opts);
  return verdict === "kvm" ? { kind: "usable" } : { kind: "probe-failed" };
}

async function probedVerdict(device: string, opts: ChooseAccelOptions): Promise<Accel> {
  // Probing costs up to probeTimeoutMs, so remember the verdict per QEMU build and host kernel.
  const qemu = findQemu(opts.qemuBinary);
  const qst = fs.statSync(qemu);
  const key = `${fs.realpathSync(qemu)}:${qst.size}:${qst.mtimeMs}|${os.release()}|${device}`;
  const inSession = sessionVerdicts.get(key);
  if (inSession) return inSession;
  const file = path.join(opts.cacheDir, "accel-verdict.json");
  const saved = readJson<VerdictFile>(file)?.[key];
  if (saved && Date.now() - saved.at < VERDICT_TTL_MS && (saved.accel === "kvm" || saved.accel === "tcg")) {
    sessionVerdicts.set(key, saved.accel);
    return saved.accel;
  }
  opts.onProgress?.("probing KVM");
  const ok = await probeAccel("kvm", { qemuBinary: qemu, timeoutMs: opts.probeTimeoutMs ?? 4000 });
  const accel: Accel = ok ? "kvm" : "tcg";
  if (!ok) opts.onProgress?.("KVM probe guest did not run (nested virtualisation?): using TCG");
  sessionVerdicts.set(key, accel);
  const all = readJson<VerdictFile>(file) ?? {};
  for (const k of Object.keys(all)) if (Date.now() - (all[k]?.at ?? 0) > VERDICT_TTL_MS) delete all[k];
  all[key] = { accel, at: Date.now() };
  try {
    atomicWriteFile(file, JSON.stringify(all, null, 1));
  } catch {
    // a read-only cache only costs a re-probe next time
  }
  return accel;
}

/** Forget in-process verdicts (tests). */
export function resetAccelCache(): void {
  sessionVerdicts.clear();
}

// A 64 KiB firmware image (loaded with -bios): from the reset vector it prints 'R' on COM1,
// enters 32-bit protected mode ('P'), builds identity page tables and enters long mode ('L').
// Source: test/fixtures/accel-probe.S. No kernel needed, and it takes milliseconds on real KVM.
const PROBE_CODE =
  "fabaf803b052ee8cc88ed8660f0116c0000f20c06683c8010f22c066ea23000f00080066b810008ed88ec08ed066baf803b050eebf00100000" +
  "31c0b9000c0000f3abc7050010000003200000c7050020000003300000c70500300000830000000f20e083c8200f22e0b8001000000f22d8b9" +
  "800000c00f320d000100000f300f20c00d000000800f22c0ea91000f00180066baf803b04ceeb00aeef4ebfd66900000000000000000ffff00" +
  "00009acf00ffff00000092cf00ffff0000009aaf001f00a0000f";
const RESET_VECTOR = "ea000000f0"; // ljmp $0xf000,$0 at 0xffff0

export function probeFirmware(): Uint8Array {
  const img = new Uint8Array(0x10000);
  img.set(Buffer.from(PROBE_CODE, "hex"), 0);
  img.set(Buffer.from(RESET_VECTOR, "hex"), 0xfff0);
  return img;
}

/** Run the probe firmware under `accel`; true when it reached long mode before the deadline. */
export async function probeAccel(accel: Accel, opts: { qemuBinary?: string; timeoutMs?: number } = {}): Promise<boolean> {
  const qemu = findQemu(opts.qemuBinary);
  const dir = ownedTempDir("probe");
  const bios = path.join(dir, "probe.rom");
  fs.writeFileSync(bios, probeFirmware());
  const proc = Bun.spawn(
    [qemu, ...accelArgs(accel), "-machine", "pc", "-m", "16", "-nodefaults", "-display", "none", "-no-reboot",
      "-bios", bios, "-serial", "stdio"],
    { stdin: "ignore", stdout: "pipe", stderr: "ignore" },
  );
  const kill = () => {
    try {
      proc.kill("SIGKILL");
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onProcessExit(kill); // Ctrl-C during the probe must not leave it running
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const sawMarker = (async () => {
      let seen = "";
      const reader = proc.stdout.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        seen += Buffer.from(value).toString("latin1");
        if (seen.includes("L")) return true;
      }
    })();
    const deadline = new Promise<false>((r) => (timer = setTimeout(() => r(false), opts.timeoutMs ?? 4000)));
    return await Promise.race([sawMarker, deadline]);
  } finally {
    clearTimeout(timer);
    // A guest hung inside KVM only dies with SIGKILL; don't wait for the exit (it can linger).
    unregister();
    kill();
  }
}
