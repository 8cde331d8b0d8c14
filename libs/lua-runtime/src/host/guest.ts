// One guest VM as the host sees it: a QEMU process, its control plane (QMP) and the
// agent connection, with the lifecycle and the error wording existing tests match on.
import { INCOMING_ARGS, loadMemory, openIncoming, QemuVm, saveMemory, type IncomingStream } from "@provium/vmm";
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { connectAgent, type AgentClient } from "@provium/protocol";
import type { BootImage, NicOptions } from "@provium/vmm";

export type VmState = "created" | "booted" | "paused" | "shutdown";

/** A QEMU process of a VM started or ended (for the run's events and leak checks). */
export type VmEvent = (kind: "vm_spawned" | "vm_shutdown", info: { vm: string; pid: number; run_dir: string }) => void;

export interface VmSpec {
  name: string;
  profile: string;
  memoryMiB: number;
  cpus: number;
  /** NICs on the file's bridges (bridges.ts adds them before boot) */
  nics?: NicOptions[];
}

/** One VM's saved state: what a restore needs to rebuild it. */
export interface VmSnapshot {
  vm: string;
  spec: VmSpec;
  image: BootImage;
  accel: "kvm" | "tcg";
  memory: string; // the migration stream
  compressed: boolean;
  bytes: number;
}

interface Launched {
  qemu: QemuVm;
  agent: AgentClient;
}
/** A QEMU launched for a restore, with the snapshot stream it inherited. */
type Incoming = Launched & { stream: IncomingStream };

async function discard(l: Launched) {
  l.agent.close(new Error("spare QEMU discarded"));
  await l.qemu.shutdown({ graceMs: 0 });
}

export class GuestVm {
  state: VmState = "created";
  private image: BootImage | null = null;
  private accel: "kvm" | "tcg" | null = null;
  qemu: QemuVm | null = null;
  agent: AgentClient | null = null;
  private agentLost: Error | null = null;
  private shutdownHooks: (() => void)[] = [];
  /** A QEMU launched ahead, waiting for `snap`'s stream: the next restore of it skips the launch. */
  private spare: { snap: VmSnapshot; launched: Promise<Incoming | null> } | null = null;

  constructor(
    readonly spec: VmSpec,
    private readonly onLifecycle: VmEvent,
  ) {}

  /** Raises unless the VM can take a guest op now. */
  ready(): AgentClient {
    if (this.state === "created") throw new Error(`VM not booted: call ${this.spec.name}:boot() first`);
    if (this.state === "paused") throw new Error(`VM is paused; use resume() (vm ${this.spec.name})`);
    if (this.state === "shutdown") throw new Error(`VM is shutdown; create a new one (vm ${this.spec.name})`);
    if (this.agentLost) throw new Error(`the agent of vm ${this.spec.name} is gone: ${this.agentLost.message}${this.consoleExcerpt()}`);
    return this.agent!;
  }

  /** Raises unless the VM can be booted now. */
  checkBootable() {
    if (this.state === "booted" || this.state === "paused") throw new Error(`VM already booted (vm ${this.spec.name})`);
    if (this.state === "shutdown") throw new Error(`VM is shutdown; create a new one (vm ${this.spec.name})`);
  }

  async boot(image: BootImage, accel: "kvm" | "tcg", agentDeadlineMs: number) {
    this.checkBootable();
    this.state = "booted";
    this.adopt(await this.launch(image, accel, this.spec, []), image, accel);
    await this.awaitAgent(agentDeadlineMs, "of boot");
  }

  // Launches QEMU (booting, or waiting for a snapshot with INCOMING_ARGS) and connects
  // the agent socket, so nothing the agent sends is missed.
  private async launch(image: BootImage, accel: "kvm" | "tcg", spec: VmSpec, extraArgs: string[], fds?: number[]): Promise<Launched> {
    const qemu = await QemuVm.launch({
      name: this.spec.name,
      kernel: image.kernel,
      initrd: image.initrd,
      cmdline: image.cmdline,
      memoryMiB: spec.memoryMiB,
      cpus: spec.cpus,
      accel,
      drives: image.drives,
      nics: spec.nics,
      extraArgs,
      fds,
    });
    try {
      // A spare's agent connection reports a loss only once the spare is this VM's QEMU.
      const agent = await connectAgent(qemu.agentSocket, (why) => {
        if (this.qemu === qemu) this.agentLost ??= why;
      });
      return { qemu, agent };
    } catch (e) {
      await qemu.shutdown({ graceMs: 0 });
      throw e;
    }
  }

  // Makes a launched QEMU this VM's.
  private adopt(l: Launched, image: BootImage, accel: "kvm" | "tcg") {
    this.agentLost = null;
    this.image = image;
    this.accel = accel;
    this.qemu = l.qemu;
    this.agent = l.agent;
    this.onLifecycle("vm_spawned", { vm: this.spec.name, pid: l.qemu.pid, run_dir: l.qemu.runDir });
  }

  // A restore for `snap` launches its QEMU here, ahead of time, and the next restore takes it:
  // a restore then costs loading and the agent's first answer, not QEMU's start (~130 ms under
  // TCG here, most of a restore under KVM). Only for a session's own (uncompressed) snapshots:
  // reset_between_tests and snapshot:restore() restore the same one again and again.
  private launchSpare(snap: VmSnapshot) {
    void this.dropSpare();
    if (snap.compressed || this.state === "shutdown") return;
    let stream: IncomingStream;
    try {
      stream = openIncoming(snap.memory);
    } catch {
      return; // the restore itself says what is wrong
    }
    const launched = this.launch(snap.image, snap.accel, snap.spec, INCOMING_ARGS, stream.fds)
      .then((l) => ({ ...l, stream }))
      .catch(() => null) // a spare that fails is no spare: the restore launches anew, and says why
      .finally(() => stream.close());
    this.spare = { snap, launched };
  }

  /** Ends the QEMU launched ahead for a restore, if any (or only if it is `snap`'s). */
  async dropSpare(snap?: VmSnapshot) {
    const spare = this.spare;
    if (!spare || (snap && spare.snap !== snap)) return;
    this.spare = null;
    const l = await spare.launched;
    if (l) await discard(l);
  }

  // The spare for `snap` when there is one whose QEMU still waits; null otherwise.
  private async takeSpare(snap: VmSnapshot): Promise<Incoming | null> {
    const spare = this.spare;
    if (!spare || spare.snap !== snap) return null;
    this.spare = null;
    const l = await spare.launched;
    if (l?.qemu.exitStatus === null) return l;
    if (l) await discard(l);
    return null;
  }

  /** The pid of the QEMU waiting for the next restore, once it is launched (tests, the bench). */
  async sparePid(): Promise<number | null> {
    return (await this.spare?.launched)?.qemu.pid ?? null;
  }

  // `also`: a step taken at the same time (a restore's `cont`) whose failure is this one's.
  private async awaitAgent(deadlineMs: number, what: string, also?: Promise<unknown>) {
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the agent of vm ${this.spec.name} did not answer within ${deadlineMs / 1000} s ${what}${this.unfinishedFrame()}${this.consoleExcerpt()}`)),
        deadlineMs,
      );
    });
    const died = this.qemu!.exited.then((x) => {
      throw new Error(`QEMU for vm ${this.spec.name} exited (${x.signal ?? "code " + x.code})${this.consoleExcerpt()}`);
    });
    died.catch(() => {}); // QEMU exits later too, at shutdown: not an error then
    try {
      await Promise.race([Promise.all([this.agent!.hello(), also]), deadline, died]);
    } catch (e) {
      await this.shutdown();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  pause() {
    this.ready();
    this.state = "paused";
    return this.qemu!.qmp.execute("stop");
  }

  resume() {
    if (this.state !== "paused") throw new Error(`VM is not paused (vm ${this.spec.name} is ${this.state})`);
    this.state = "booted";
    return this.qemu!.qmp.execute("cont");
  }

  /** Saves memory and device state to `dir` (the memory to `opts.file` when given, saved disks
   *  next to it); the VM carries on (or stays paused if it was). */
  async snapshot(dir: string, opts: { compress?: boolean; file?: string } = {}): Promise<VmSnapshot> {
    const wasPaused = this.state === "paused";
    if (!wasPaused) this.ready();
    if (this.agent!.inFlight) throw new Error(`vm ${this.spec.name} has ${this.agent!.inFlight} guest ops in flight; a snapshot needs it idle`);
    mkdirSync(dir, { recursive: true });
    const memory = opts.file ?? join(dir, `${this.spec.name}.mem${opts.compress ? ".zst" : ""}`);
    // A guest that died meanwhile (QMP closes with it) fails the snapshot naming why.
    let bytes = await saveMemory(this.qemu!, memory, opts).catch(async (e) => {
      const died = await Promise.race([this.qemu!.exited.then(() => true), Bun.sleep(1000).then(() => false)]);
      throw died ? await this.gone("snapshot", e) : e;
    });
    // Disks the guest writes (copy-on-write overlays) are saved with the memory, while it is
    // paused; a restore gets a fresh overlay on top of the saved one, so both stay in step.
    const drives = this.image!.drives?.map((d, i) => {
      const live = this.qemu!.drives[i]!;
      if (!live.base) return d;
      const saved = opts.file ? `${opts.file}.${live.id}.qcow2` : join(dir, `${this.spec.name}.${live.id}.qcow2`);
      copyFileSync(live.file, saved);
      bytes += statSync(saved).size;
      return { ...d, file: saved, format: "qcow2" as const, overlay: true };
    });
    if (!wasPaused) await this.qemu!.qmp.execute("cont");
    const image = drives ? { ...this.image!, drives } : this.image!;
    const snap: VmSnapshot = { vm: this.spec.name, spec: { ...this.spec }, image, accel: this.accel!, memory, compressed: !!opts.compress, bytes };
    this.launchSpare(snap);
    return snap;
  }

  /** Replaces this VM's state with a snapshot's: a new QEMU loads it, then runs on. */
  async restore(snap: VmSnapshot, agentDeadlineMs: number) {
    if (this.state === "shutdown") throw new Error(`VM is shutdown; create a new one (vm ${this.spec.name})`);
    await this.stop();
    this.spec.memoryMiB = snap.spec.memoryMiB;
    this.spec.cpus = snap.spec.cpus;
    this.state = "booted";
    try {
      const spare = await this.takeSpare(snap);
      // A spare that died since it was launched fails its load: a fresh launch says what is
      // wrong, if anything is.
      let loaded = false;
      if (spare) loaded = await this.load(spare, snap).then(() => true, async () => (await this.stop(), false));
      if (!loaded) {
        const stream = openIncoming(snap.memory, { compressed: snap.compressed });
        let l: Launched;
        try {
          l = await this.launch(snap.image, snap.accel, snap.spec, INCOMING_ARGS, stream.fds);
        } finally {
          stream.close();
        }
        await this.load({ ...l, stream }, snap);
      }
    } catch (e) {
      await this.shutdown();
      throw e;
    }
    // `cont` and the first request go out together (no QMP round trip in between): the request
    // waits in the socket, or in the guest's virtqueue, until the guest runs.
    await this.awaitAgent(agentDeadlineMs, "after restore", this.qemu!.qmp.execute("cont"));
    this.launchSpare(snap);
  }

  private async load(l: Incoming, snap: VmSnapshot) {
    this.adopt(l, snap.image, snap.accel);
    await loadMemory(l.qemu, l.stream);
  }

  /** The last lines of the guest console, without terminal escapes (firmware clears the screen). */
  consoleTail(lines = 20) {
    return cleanConsole(this.qemu?.consoleTail(lines) ?? "");
  }

  // An agent that sent part of a frame and stopped is stuck or hostile: say so.
  private unfinishedFrame() {
    const p = this.agent?.partial;
    return p?.bytes ? ` (it sent ${p.bytes} bytes of an unfinished frame${p.announced ? ` announced as ${p.announced} bytes` : ""})` : "";
  }

  /**
   * Why the guest is gone, once its connection broke: "QEMU was killed by SIGKILL", "the guest
   * kernel panicked: <its reason>", "the agent exited with status 137, and the guest powered off",
   * from QEMU's exit status (awaited briefly: the socket closes first) and the console.
   */
  async whyGone(): Promise<string> {
    const qemu = this.qemu;
    if (!qemu) return "";
    const exit = qemu.exitStatus ?? (await Promise.race([qemu.exited, Bun.sleep(1000).then(() => null)]));
    const console = this.consoleTail(400);
    const panic = /Kernel panic - not syncing: ([^\n]*)/.exec(console)?.[1];
    const agent = /provium-init: agent exited with status (\d+)/.exec(console)?.[1];
    const causes = [
      exit?.signal && exit.signal !== "SIGTERM" ? `QEMU was killed by ${exit.signal}` : "",
      panic ? `the guest kernel panicked: ${panic.trim()}` : "",
      agent ? `the agent exited with status ${agent}${Number(agent) > 128 ? ` (signal ${Number(agent) - 128})` : ""}` : "",
      exit && !exit.signal && !panic && !agent ? `the guest powered off (QEMU exit code ${exit.code})` : "",
      !exit ? "QEMU is still running" : "",
    ].filter(Boolean);
    return causes.join("; ");
  }

  /** An error for an op that failed because the connection to the guest broke. */
  async gone(what: string, e: Error): Promise<Error> {
    const why = await this.whyGone();
    return new Error(`${what}: vm ${this.spec.name}: ${e.message}${why ? ` (${why})` : ""}${this.consoleExcerpt()}`);
  }

  consoleExcerpt(lines = 20) {
    const tail = this.consoleTail(lines).trimEnd();
    return tail ? `\n--- last lines of the guest console ---\n${tail}` : "";
  }

  /** Runs `fn` once the VM is shut down (or at once if it already is). */
  onShutdown(fn: () => void) {
    if (this.state === "shutdown") fn();
    else this.shutdownHooks.push(fn);
  }

  async shutdown() {
    if (this.state === "shutdown") return;
    this.state = "shutdown";
    try {
      await Promise.all([this.dropSpare(), this.stop()]);
    } finally {
      for (const fn of this.shutdownHooks.splice(0)) fn();
    }
  }

  // Ends the current QEMU (shutdown, or before a restore replaces it).
  private async stop() {
    this.agent?.close(new Error("VM is shutdown"));
    const qemu = this.qemu;
    if (!qemu) return;
    this.qemu = null;
    await qemu.shutdown();
    this.onLifecycle("vm_shutdown", { vm: this.spec.name, pid: qemu.pid, run_dir: qemu.runDir });
  }
}

export function cleanConsole(text: string) {
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g, "")
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "")
    .split("\n")
    .filter((l, i, all) => l.trim() || (i > 0 && all[i - 1]!.trim()))
    .join("\n");
}
