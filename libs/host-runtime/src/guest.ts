// One guest VM as the host sees it: a QEMU process, its control plane (QMP) and the
// agent connection, with the lifecycle and the error wording existing tests match on.
import { INCOMING_ARGS, loadMemory, openIncoming, pressPowerButton, QemuVm, resetMachine, saveMemory, waitExit, type IncomingStream, type LaunchOptions } from "@provium/vmm";
import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { connectAgent, type AgentClient } from "@provium/protocol";
import type { BootImage, NicOptions } from "@provium/vmm";
import { VmDisks } from "./disks";
import { cleanConsole, failureExcerpt } from "./console-excerpt";

/** "dead": the guest powered itself off, panicked or rebooted itself (QEMU runs with -no-reboot). */
export type VmState = "created" | "booted" | "paused" | "shutdown" | "dead";

/** What vm:boot(opts) adds to a profile's launch (see vm-registry.ts's bootOptions). */
export type BootExtras = Pick<LaunchOptions, "bootFiles" | "rngSeed" | "rtcBase" | "shares" | "consolePrefix" | "memoryFile"> & { cmdline?: string; qemuArgs?: string[] };

// --gdb with --debug: a booting VM waits for the debugger, so its agent gets a day to answer.
const DEBUGGER_WAIT_MS = 24 * 3600 * 1000;

// The console a dead VM leaves for read_log() (its run dir, and the log with it, is gone).
const DEAD_LOG_KEEP = 1 << 20;

/** A QEMU process of a VM started or ended (for the run's events and leak checks); `gdb`: its gdbstub's socket. */
export type VmEvent = (kind: "vm_spawned" | "vm_shutdown", info: { vm: string; pid: number; run_dir: string; gdb?: string }) => void;

export interface VmSpec {
  name: string;
  profile: string;
  memoryMiB: number;
  cpus: number;
  /** NICs on the file's bridges (bridges.ts adds them before boot) */
  nics?: NicOptions[];
  /** QEMU arguments appended to its command line (profile key and boot option qemu_args), kept for restores */
  qemuArgs?: string[];
  /** --gdb: a gdbstub on every launch; "wait": a boot also waits for the debugger (--debug) */
  gdb?: "on" | "wait";
}

/** The agent did not answer within its deadline (of a boot, after a restore or reset). */
export class AgentSilent extends Error {}

/** How a VM's boot went: "warm" restored its shape's boot template (boot-templates.ts). */
export type BootKind = "warm" | "cold";

/** What a warm boot restores: a template's saved state and the boot log its console starts with. */
export interface WarmStart {
  snap: VmSnapshot;
  consoleLog: string;
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
  /** the guest's memory as a file (a boot template's): a restore maps it privately and the
   *  stream holds the devices' state alone */
  ram?: string;
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
  /** how its boot went, once booted */
  bootKind: BootKind | null = null;
  private image: BootImage | null = null;
  private accel: "kvm" | "tcg" | null = null;
  qemu: QemuVm | null = null;
  agent: AgentClient | null = null;
  private agentLost: Error | null = null;
  private shutdownHooks: (() => void)[] = [];
  /** why the VM is dead, with the console's last lines */
  private death: string | null = null;
  /** why the VM is dead, alone (whyGone's answer once its QEMU is gone) */
  private deathCause: string | null = null;
  /** the end of the console log of a VM that died */
  deadLog: Uint8Array | null = null;
  private powerButtonPressed = false;
  /** disks attached with vm:attach_disk (and a profile's `disks`) */
  readonly disks = new VmDisks(this);
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
    if (this.state === "dead") throw new Error(`VM is dead: ${this.death}`);
    if (this.agentLost) throw new Error(`the agent of vm ${this.spec.name} is gone: ${this.agentLost.message}${this.consoleExcerpt()}`);
    return this.agent!;
  }

  /** Raises unless the VM can be booted now. */
  checkBootable() {
    if (this.state === "booted" || this.state === "paused") throw new Error(`VM already booted (vm ${this.spec.name})`);
    if (this.state === "shutdown") throw new Error(`VM is shutdown; create a new one (vm ${this.spec.name})`);
    if (this.state === "dead") throw new Error(`VM is dead: ${this.death}`);
  }

  /** The running QEMU, for ops that need no agent (console, disks, power); raises in the wrong state. */
  machine(): QemuVm {
    if (this.state === "booted" || this.state === "paused") return this.qemu!;
    this.ready();
    throw new Error(`vm ${this.spec.name} has no machine (state ${this.state})`);
  }

  async boot(image: BootImage, accel: "kvm" | "tcg", agentDeadlineMs: number, extras: BootExtras = {}) {
    this.checkBootable();
    this.state = "booted";
    if (extras.qemuArgs?.length) this.spec.qemuArgs = extras.qemuArgs;
    let launched: Launched;
    try {
      launched = await this.launch(image, accel, this.spec, [], undefined, extras);
    } catch (e) {
      this.state = "created"; // nothing started: a corrected boot may follow
      throw e;
    }
    this.adopt(launched, image, accel);
    this.bootKind = "cold";
    await this.awaitAgent(this.spec.gdb === "wait" ? DEBUGGER_WAIT_MS : agentDeadlineMs, "of boot");
  }

  /**
   * A warm boot: a new QEMU with this VM's own devices (its NICs' ports) loads a boot template
   * of its shape, its console log starting with the template's, and the agent's first hello
   * makes the clone's randomness and wall clock its own before it answers. A template that does
   * not load, or whose agent does not answer, leaves the VM "created" (a cold boot may follow)
   * and raises.
   */
  async bootWarm(from: WarmStart, agentDeadlineMs: number) {
    this.checkBootable();
    this.state = "booted";
    const { snap } = from;
    try {
      const stream = openIncoming(snap.memory, { compressed: snap.compressed });
      let l: Launched;
      try {
        l = await this.launch(snap.image, snap.accel, this.spec, INCOMING_ARGS, stream.fds, { consolePrefix: from.consoleLog, ...mapped(snap) });
      } finally {
        stream.close();
      }
      this.bootKind = "warm";
      await this.load({ ...l, stream }, snap);
    } catch (e) {
      await this.stop();
      this.state = "created";
      this.bootKind = null;
      throw e;
    }
    const clone = { entropy: crypto.getRandomValues(new Uint8Array(64)), clockNs: BigInt(Date.now()) * 1_000_000n };
    await this.awaitAgent(agentDeadlineMs, "of boot", this.qemu!.qmp.execute("cont"), clone, "created");
  }

  /**
   * Reboots the guest in place (same QEMU: disks stay attached) and returns once a fresh agent
   * connection answers. What the guest ran (processes, workers, streams) is gone.
   */
  async reset(agentDeadlineMs: number) {
    const old = this.ready();
    const qemu = this.qemu!;
    await resetMachine(qemu, async () => {
      this.agent = null;
      old.close(new Error(`vm ${this.spec.name} was reset`));
      this.agent = await this.connect(qemu);
      await this.awaitAgent(agentDeadlineMs, "after reset");
    });
  }

  /** Presses the ACPI power button and waits until the guest has powered off: state "shutdown". */
  async powerButton(timeoutMs: number) {
    this.ready();
    const qemu = this.qemu!;
    this.powerButtonPressed = true;
    await pressPowerButton(qemu);
    if (!(await waitExit(qemu, timeoutMs))) {
      this.powerButtonPressed = false;
      throw new Error(`vm ${this.spec.name} did not power off within ${timeoutMs / 1000} s of the power button (the guest must act on the ACPI power key; Provium's init runs busybox acpid for it)${this.consoleExcerpt()}`);
    }
    await this.shutdown();
  }

  /** A guest op after the agent's connection dropped: lets QEMU's exit (if that is why) set the state first. */
  async settle() {
    if (!this.agentLost || this.state !== "booted" || !this.qemu) return;
    await waitExit(this.qemu, 2000);
    await Bun.sleep(0); // the exit handler (onQemuExit) runs before we look again
  }

  // QEMU ended by itself (not by stop()): the guest powered off, panicked or rebooted.
  private onQemuExit(qemu: QemuVm) {
    if (this.qemu !== qemu || (this.state !== "booted" && this.state !== "paused")) return;
    const end = qemu.guestEnd;
    if (this.powerButtonPressed && end === "poweroff") return void this.shutdown();
    const why =
      end === "reboot" ? "the guest rebooted itself (VMs run with -no-reboot: use vm:reset())"
      : goneCauses(qemu.exitStatus, this.consoleTail(400), end === "panic");
    this.deathCause = why;
    const log = qemu.console.readLog();
    this.deadLog = log.subarray(Math.max(0, log.length - DEAD_LOG_KEEP));
    this.death = `${why}; create a new one (vm ${this.spec.name})${end === "panic" ? panicExcerpt(this.deadLog) : this.consoleExcerpt()}`;
    this.state = "dead";
    void this.end();
  }

  // Launches QEMU (booting, or waiting for a snapshot with INCOMING_ARGS) and connects
  // the agent socket, so nothing the agent sends is missed.
  private async launch(image: BootImage, accel: "kvm" | "tcg", spec: VmSpec, extraArgs: string[], fds?: number[], extras: BootExtras = {}): Promise<Launched> {
    const qemu = await QemuVm.launch({
      name: this.spec.name,
      kernel: image.kernel,
      initrd: image.initrd,
      ...extras,
      cmdline: extras.cmdline ?? image.cmdline,
      memoryMiB: spec.memoryMiB,
      cpus: spec.cpus,
      accel,
      drives: image.drives,
      nics: spec.nics,
      extraArgs: [...extraArgs, ...(spec.qemuArgs ?? [])],
      fds,
      gdb: spec.gdb && (fds ? "on" : spec.gdb), // a restore's QEMU loads before it runs: no wait
    });
    try {
      return { qemu, agent: await this.connect(qemu) };
    } catch (e) {
      await qemu.shutdown({ graceMs: 0 });
      throw e;
    }
  }

  // A spare's agent connection reports a loss only once the spare is this VM's QEMU, and a
  // connection replaced (at a reset) never does.
  private async connect(qemu: QemuVm): Promise<AgentClient> {
    const agent: AgentClient = await connectAgent(qemu.agentSocket, (why) => {
      if (this.qemu === qemu && this.agent === agent) this.agentLost ??= why;
    });
    return agent;
  }

  // Makes a launched QEMU this VM's.
  private adopt(l: Launched, image: BootImage, accel: "kvm" | "tcg") {
    this.agentLost = null;
    this.image = image;
    this.accel = accel;
    this.qemu = l.qemu;
    this.agent = l.agent;
    void l.qemu.exited.then(() => this.onQemuExit(l.qemu));
    this.onLifecycle("vm_spawned", { vm: this.spec.name, pid: l.qemu.pid, run_dir: l.qemu.runDir, ...(l.qemu.gdbSocket ? { gdb: l.qemu.gdbSocket } : {}) });
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
    const launched = this.launch(snap.image, snap.accel, snap.spec, INCOMING_ARGS, stream.fds, mapped(snap))
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
  // `clone`: a warm boot's first hello (see bootWarm). A failure shuts the VM down, or with
  // `failed` "created" ends its QEMU only (a warm boot that failed may boot cold).
  private async awaitAgent(deadlineMs: number, what: string, also?: Promise<unknown>, clone?: { entropy: Uint8Array; clockNs: bigint }, failed: "shutdown" | "created" = "shutdown") {
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AgentSilent(`the agent of vm ${this.spec.name} did not answer within ${deadlineMs / 1000} s ${what}${this.unfinishedFrame()}${this.consoleExcerpt()}`)),
        deadlineMs,
      );
    });
    const died = this.qemu!.exited.then((x) => {
      throw new Error(`QEMU for vm ${this.spec.name} exited (${x.signal ?? "code " + x.code})${this.consoleExcerpt()}`);
    });
    died.catch(() => {}); // QEMU exits later too, at shutdown: not an error then
    try {
      const [hello] = await Promise.race([Promise.all([this.agent!.hello(clone), also]), deadline, died]);
      if (clone && !hello.reseeded) throw new Error(`the agent of vm ${this.spec.name} did not reseed its randomness after a warm boot (an agent older than this host?)`);
    } catch (e) {
      if (failed === "shutdown") await this.shutdown();
      else {
        await this.stop();
        this.state = "created";
        this.bootKind = null;
      }
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
   *  next to it); the VM carries on (or stays paused if it was). `ramTo`, for a VM booted with a
   *  shared memory file (a boot template's maker): the stream holds the devices' state alone and
   *  the memory is a sparse copy of that file at `ramTo`, made while the guest is paused. */
  async snapshot(dir: string, opts: { compress?: boolean; file?: string; spare?: boolean; ramTo?: string } = {}): Promise<VmSnapshot> {
    const wasPaused = this.state === "paused";
    if (!wasPaused) this.ready();
    this.disks.refuseSnapshot();
    if (this.agent!.inFlight) throw new Error(`vm ${this.spec.name} has ${this.agent!.inFlight} guest ops in flight; a snapshot needs it idle`);
    mkdirSync(dir, { recursive: true });
    const memory = opts.file ?? join(dir, `${this.spec.name}.mem${opts.compress ? ".zst" : ""}`);
    const qemu = this.qemu!; // (a guest that dies meanwhile leaves this.qemu null)
    const written: string[] = [];
    let bytes: number;
    let drives: BootImage["drives"];
    const ram = opts.ramTo ?? null;
    if (ram && !qemu.memoryFile) throw new Error(`vm ${this.spec.name}: its memory is not a shared file`);
    try {
      bytes = await saveMemory(qemu, memory, { ...opts, ignoreShared: !!ram });
      written.push(memory);
      if (ram) {
        written.push(ram);
        bytes += await sparseCopy(qemu.memoryFile!, ram);
      }
      // Disks the guest writes (copy-on-write overlays) are saved with the memory, while it is
      // paused; a restore gets a fresh overlay on top of the saved one, so both stay in step.
      drives = this.image!.drives?.map((d, i) => {
        const live = qemu.drives[i]!;
        if (!live.base) return d;
        const saved = opts.file ? `${opts.file}.${live.id}.qcow2` : join(dir, `${this.spec.name}.${live.id}.qcow2`);
        written.push(saved);
        copyFileSync(live.file, saved);
        bytes += statSync(saved).size;
        return { ...d, file: saved, format: "qcow2" as const, overlay: true };
      });
    } catch (e) {
      for (const f of written) rmSync(f, { force: true });
      // A guest that died meanwhile (QMP closes with it) fails the snapshot naming why; one
      // that lives runs on (a failed save, e.g. a full disk, left it paused: found by chaos).
      const died = this.state === "dead" || (await Promise.race([qemu.exited.then(() => true), Bun.sleep(1000).then(() => false)]));
      if (died) throw await this.gone("snapshot", e as Error);
      if (!wasPaused) await qemu.qmp.execute("cont").catch(() => {});
      throw e;
    }
    if (!wasPaused) await qemu.qmp.execute("cont");
    const image = drives ? { ...this.image!, drives } : this.image!;
    const snap: VmSnapshot = { vm: this.spec.name, spec: { ...this.spec }, image, accel: this.accel!, memory, compressed: !!opts.compress, bytes, ...(ram ? { ram } : {}) };
    if (opts.spare !== false) this.launchSpare(snap);
    return snap;
  }

  /** Replaces this VM's state with a snapshot's: a new QEMU loads it, then runs on. */
  async restore(snap: VmSnapshot, agentDeadlineMs: number) {
    if (this.state === "shutdown") throw new Error(`VM is shutdown; create a new one (vm ${this.spec.name})`);
    if (this.state === "dead") this.state = "booted"; // a restore brings a dead VM back
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
          l = await this.launch(snap.image, snap.accel, snap.spec, INCOMING_ARGS, stream.fds, mapped(snap));
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
    await loadMemory(l.qemu, l.stream, { ignoreShared: !!snap.ram });
  }

  /** The last lines of the guest console, without terminal escapes (firmware clears the screen). */
  consoleTail(lines = 20) {
    if (!this.qemu && this.deadLog) return cleanConsole(Buffer.from(this.deadLog).toString("utf8").replace(/\r/g, "").split("\n").slice(-lines - 1).join("\n").trimEnd());
    return cleanConsole(this.qemu?.consoleTail(lines) ?? "");
  }

  /** A failure report's excerpt of the console: its last `lines` lines after the firmware's. */
  failureExcerpt(lines: number) {
    const log = this.qemu ? this.qemu.console.readLog() : this.deadLog;
    return log ? failureExcerpt(Buffer.from(log).toString("utf8"), lines) : "";
  }

  /** QEMU's human monitor (HMP) through QMP: vm:monitor(cmd)'s text. */
  monitor(command: string): Promise<string> {
    return this.machine().qmp.execute("human-monitor-command", { "command-line": command });
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
    if (qemu && !qemu.exitStatus) await Promise.race([qemu.exited, Bun.sleep(1000)]);
    await Bun.sleep(0); // QEMU's exit handler (onQemuExit, registered first) has run
    if (this.deathCause) return this.deathCause; // the VM died: its QEMU and run dir are gone
    if (!qemu) return "";
    return goneCauses(qemu.exitStatus, this.consoleTail(400));
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
    if (this.state === "shutdown" || this.state === "dead") fn();
    else this.shutdownHooks.push(fn);
  }

  async shutdown() {
    if (this.state === "shutdown") return;
    const wasDead = this.state === "dead";
    this.state = "shutdown";
    if (!wasDead) await this.end();
  }

  // Releases what a VM that ended holds: its QEMU (and run dir), the spare, its capacity share.
  private async end() {
    try {
      await Promise.all([this.dropSpare(), this.stop()]);
    } finally {
      for (const fn of this.shutdownHooks.splice(0)) fn();
    }
  }

  // Ends the current QEMU (shutdown, or before a restore replaces it).
  private async stop() {
    this.disks.forget();
    this.agent?.close(new Error("VM is shutdown"));
    const qemu = this.qemu;
    if (!qemu) return;
    this.qemu = null;
    await qemu.shutdown();
    this.onLifecycle("vm_shutdown", { vm: this.spec.name, pid: qemu.pid, run_dir: qemu.runDir });
  }
}

// A restore of a snapshot whose memory is a file maps that file, privately.
const mapped = (snap: VmSnapshot): BootExtras => (snap.ram ? { memoryFile: { path: snap.ram, shared: false } } : {});

// A copy of a guest's memory file in which runs of zero pages are holes (cp finds them): what
// the guest never touched, or freed with init_on_free, takes no room. Returns the bytes it takes.
async function sparseCopy(from: string, to: string): Promise<number> {
  const cp = Bun.spawn(["cp", "--sparse=always", from, to], { stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([cp.exited, new Response(cp.stderr).text()]);
  if (code !== 0) {
    rmSync(to, { force: true });
    throw new Error(`snapshot failed: could not copy the guest's memory to ${to}: ${err.trim() || `cp exited ${code}`}`);
  }
  return statSync(to).blocks * 512;
}

// Why a guest is gone, from QEMU's exit status and the console: "QEMU was killed by SIGKILL",
// "the guest kernel panicked: <its reason>", "the agent exited with status 137 (signal 9)",
// "the guest powered off (QEMU exit code 0)". `panicked`: pvpanic said so.
function goneCauses(exit: { code: number | null; signal: string | null } | null, console: string, panicked = false) {
  const reason = /Kernel panic - not syncing: ([^\n]*)/.exec(console)?.[1];
  const panic = reason ? `the guest kernel panicked: ${reason.trim()}` : panicked ? "the guest kernel panicked" : "";
  const agent = /provium-init: agent exited with status (\d+)/.exec(console)?.[1];
  const causes = [
    exit?.signal && exit.signal !== "SIGTERM" ? `QEMU was killed by ${exit.signal}` : "",
    panic,
    agent ? `the agent exited with status ${agent}${Number(agent) > 128 ? ` (signal ${Number(agent) - 128})` : ""}` : "",
    exit && !exit.signal && !panic && !agent ? `the guest powered off (QEMU exit code ${exit.code})` : "",
    !exit ? "QEMU is still running" : "",
  ].filter(Boolean);
  return causes.join("; ");
}

// A panic's stack trace is longer than a console excerpt: show from the panic line on.
function panicExcerpt(log: Uint8Array) {
  const text = cleanConsole(Buffer.from(log).toString("utf8").replace(/\r/g, ""));
  const at = text.lastIndexOf("Kernel panic");
  const lines = (at < 0 ? text : text.slice(text.lastIndexOf("\n", at) + 1)).split("\n");
  return `\n--- last lines of the guest console (from the panic) ---\n${(at < 0 ? lines.slice(-20) : lines.slice(0, 40)).join("\n").trimEnd()}`;
}
