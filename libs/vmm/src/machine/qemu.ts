// One QEMU process per VM. Everything it creates (QMP socket, agent socket, console log) lives
// in a private run dir, and every live VM is registered so that no QEMU and no run dir
// outlives the host process, whatever way it ends (see exit-cleanup.ts).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Subprocess } from "bun";
import { accelArgs, accelCmdline, type Accel } from "./accel";
import { QmpClient } from "./qmp";
import { findQemu, findQemuImg } from "../host-tools";
import { onProcessExit } from "./exit-cleanup";
import { ownedTempDir } from "./sweep";
import { ConsoleHost } from "./console";
import { writeInitrdWithFiles, type BootFile } from "./boot-files";
import { checkShare, shareArgs, shareCmdline, type ShareOptions } from "./shares";

export interface LaunchOptions {
  name: string;
  kernel: string;
  initrd?: string | null;
  /** appended to the base kernel command line ("console=ttyS0 quiet loglevel=5 panic=-1 cryptomgr.notests", and under TCG "tsc=reliable provium.noftl", see accelCmdline) */
  cmdline?: string;
  memoryMiB: number;
  cpus: number;
  accel: Accel;
  /** directory in which the private run dir (provium-run-p<pid>-XXXXXX) is created (default os.tmpdir()) */
  runDir?: string;
  qemuBinary?: string;
  /** machine type (default "pc,hpet=off": see BASE_MACHINE) */
  machine?: string;
  /** extra QEMU arguments, appended last */
  extraArgs?: string[];
  /** how long QEMU gets to open its QMP socket (default 10 s) */
  startTimeoutMs?: number;
  /** virtio-blk disks, in order: the guest sees /dev/vda, /dev/vdb, ... */
  drives?: DriveOptions[];
  /**
   * Open file descriptors QEMU inherits as 3, 4, ... (e.g. a snapshot for `-incoming fd:3`,
   * see migration.ts). QEMU gets its own copies: the caller still closes its own.
   */
  fds?: number[];
  /** host files placed in the guest before the agent starts (an archive appended to a per-VM copy of the initrd) */
  bootFiles?: BootFile[];
  /** bytes guest-init mixes into the kernel's entropy pool before the agent starts (not credited) */
  rngSeed?: Uint8Array;
  /** the guest's real-time clock starts here (`-rtc base=`, whole seconds, UTC) */
  rtcBase?: Date;
  /** virtio-net NICs, each on a switch port (see @provium/netswitch) */
  nics?: NicOptions[];
  /** host directories the guest mounts over virtio-9p before the agent starts (see shares.ts) */
  shares?: ShareOptions[];
  /** QEMU's gdbstub on RUN/gdb.sock; "wait": the CPUs start stopped (-S) until a debugger continues or detaches */
  gdb?: "on" | "wait";
  /** a file whose bytes the console log starts with (a warm boot: its template's boot log) */
  consolePrefix?: string;
  /**
   * Guest memory mapped from a file instead of anonymous memory: `shared` maps it MAP_SHARED (the
   * file is the memory: what makes a boot template's memory file), else MAP_PRIVATE (the file's
   * pages are read as the guest touches them, shared with every other QEMU that maps it, and a
   * page the guest writes becomes its own copy: a warm boot's clone of its template). A shared
   * one is made by QemuVm in a dir of its own under /dev/shm (tmpfs: the guest's writes never
   * go to a disk) and removed with the run dir: see QemuVm.memoryFile.
   */
  memoryFile?: { shared: false; path: string } | { shared: true };
}

/**
 * A NIC whose frames go over QEMU's `-netdev stream` to a unix socket (a userspace switch
 * port). The socket must be listening before launch: QEMU 7.2's stream client never retries.
 */
export interface NicOptions {
  /** the netdev id (QMP `set_link` takes it): a letter, then letters, digits, - or _ */
  id: string;
  /** the switch port's unix socket */
  socket: string;
  /** "52:54:00:xx:xx:xx" */
  mac: string;
  /** "10.0.1.2/24": set on the guest's interface (and the link brought up) before the agent starts */
  address?: string;
}

export interface DriveOptions {
  /** the disk image on the host */
  file: string;
  /** its format (default "raw") */
  format?: "raw" | "qcow2";
  /**
   * Copy-on-write: the guest writes to a fresh qcow2 overlay in the VM's run dir (deleted with
   * it) and `file` is only ever read, so many VMs can share one base image.
   */
  overlay?: boolean;
  /** the guest sees a read-only disk */
  readOnly?: boolean;
  /** QEMU cache mode (default: "unsafe" for overlays, which are thrown away; else "writeback") */
  cache?: "none" | "writeback" | "writethrough" | "directsync" | "unsafe";
}

/** A disk as QEMU has it: `file` is what QEMU writes (the overlay, when there is one). */
export interface VmDrive {
  /** QEMU's drive id (drive0, drive1, ...) */
  id: string;
  file: string;
  format: "raw" | "qcow2";
  /** the read-only backing image of an overlay, else null */
  base: string | null;
  readOnly: boolean;
}

export interface VmExit {
  code: number | null;
  signal: string | null;
}

// Measured under TCG (2 cores, QEMU 7.2, Debian cloud kernel 6.1, launch -> first agent byte):
// pc, pc+hpet=off and q35 all land at 2.0-2.2 s (noise +-0.2 s); qboot firmware and PVH-booting
// an extracted vmlinux gained <0.2 s, not consistently. So: plain i440fx "pc" with SeaBIOS;
// hpet=off drops a timer device the guest never needs.
const BASE_MACHINE = "pc,hpet=off";
// quiet, then loglevel=5: the boot code and decompressor stay silent (they read `quiet`), and
// the kernel's warnings and errors reach the console (failure reports show them): `quiet` alone
// is level 4 on Debian's kernel, errors only, and the later loglevel= wins. A boot prints 0-4
// more lines (under TCG: timer calibration and MMCONFIG warnings); a printed line costs 1-3.5 ms
// through the emulated UART under TCG (bench/console-print.ts), so not 7 (every info line).
// panic=-1 + -no-reboot: a guest panic ends QEMU.
// cryptomgr.notests: no self-tests of every crypto algorithm as it registers (225-250 ms of the
// kernel's boot under TCG, initcall_debug; ~5% of a boot); FIPS mode (fips=1) still runs them.
const BASE_CMDLINE = "console=ttyS0 quiet loglevel=5 panic=-1 cryptomgr.notests";
// x86's COMMAND_LINE_SIZE, NUL included: QEMU passes a longer one on and the boot hangs silently.
export const MAX_CMDLINE_BYTES = 2047;
const STDERR_KEEP = 64 * 1024;
// The RAM block id of the pc machine's default memory.
const RAM_ID = "pc.ram";
// Shared memory files live here (tmpfs); the next run's sweep takes those a killed run left.
export const SHM = "/dev/shm";

const live = new Set<QemuVm>();

// QEMU gets SIGKILL when the thread that started it ends, even if this process is killed
// outright (no exit handler runs then). setpriv (util-linux) sets PR_SET_PDEATHSIG, then
// execs QEMU in the same process.
const SETPRIV = Bun.which("setpriv");
export const DIE_WITH_PARENT = SETPRIV ? [SETPRIV, "--pdeathsig", "KILL", "--"] : [];

/** VMs launched by this process and not yet shut down. */
export function liveVms(): QemuVm[] {
  return [...live];
}

/** QEMU parses "key=value,key=value": a comma inside a value is written ",,". */
const qv = (s: string) => s.replace(/,/g, ",,");

/** How the guest ended itself, from QEMU's last SHUTDOWN event (null: it didn't, or the host ended it). */
export type GuestEnd = "poweroff" | "panic" | "reboot";

/** The whole kernel command line a VM boots with: Provium's base, the accelerator's, the caller's. */
export function kernelCmdline(opts: Pick<LaunchOptions, "accel" | "cmdline" | "nics" | "shares">): string {
  const append = [BASE_CMDLINE, accelCmdline(opts.accel), nicCmdline(opts.nics ?? []), shareCmdline(opts.shares ?? []), opts.cmdline].filter(Boolean).join(" ");
  const bytes = Buffer.byteLength(append);
  if (bytes > MAX_CMDLINE_BYTES)
    throw new Error(`kernel command line too long: ${bytes} bytes, the limit is ${MAX_CMDLINE_BYTES} (x86 COMMAND_LINE_SIZE; a longer one hangs the boot silently)`);
  return append;
}

export class QemuVm {
  readonly name: string;
  readonly accel: Accel;
  readonly runDir: string;
  readonly agentSocket: string;
  readonly qmpSocket: string;
  readonly consoleLog: string;
  /** the gdbstub's unix socket (`target remote PATH`), when launched with `gdb` */
  readonly gdbSocket: string | null;
  /** the serial console: its log, subscribers and input */
  readonly console: ConsoleHost;
  /** the VM's disks; overlays live in the run dir and go with it */
  readonly drives: VmDrive[];
  /** the full QEMU command line (for error messages and debugging) */
  readonly argv: string[];
  /** the file the guest's memory is (a shared LaunchOptions.memoryFile), else null */
  readonly memoryFile: string | null;
  private readonly memoryDir: string | null;
  readonly exited: Promise<VmExit>;
  private proc: Subprocess<"ignore", "ignore", "pipe">;
  private stderrBuf = "";
  private stderrDone: Promise<void>;
  private _qmp: QmpClient | null = null;
  private shutdownP: Promise<void> | null = null;
  private done = false;
  private exitInfo: VmExit | null = null;
  private unregisterExit: () => void = () => {};
  private panicked = false;
  private lastShutdown: string | null = null;

  private constructor(opts: LaunchOptions, qemu: string, runDir: string, drives: VmDrive[], console: ConsoleHost, initrd: string | null, memoryDir: string | null) {
    this.name = opts.name;
    this.memoryDir = memoryDir;
    this.memoryFile = memoryDir ? path.join(memoryDir, "ram") : null;
    const mem = opts.memoryFile ? { path: this.memoryFile ?? (opts.memoryFile as { path: string }).path, shared: opts.memoryFile.shared } : null;
    this.drives = drives;
    this.accel = opts.accel;
    this.runDir = runDir;
    this.agentSocket = path.join(runDir, "agent.sock");
    this.qmpSocket = path.join(runDir, "qmp.sock");
    this.consoleLog = console.logPath;
    this.console = console;
    this.gdbSocket = opts.gdb ? path.join(runDir, "gdb.sock") : null;
    const append = kernelCmdline(opts);
    this.argv = [
      qemu,
      "-name", `guest=${qv(opts.name)}`,
      ...accelArgs(opts.accel),
      "-machine", (opts.machine ?? BASE_MACHINE) + (mem ? `,memory-backend=${RAM_ID}` : ""),
      "-m", String(opts.memoryMiB),
      // The id is the default RAM's own, so migration streams move between both kinds of memory.
      ...(mem ? ["-object", `memory-backend-file,id=${RAM_ID},size=${opts.memoryMiB}M,mem-path=${qv(mem.path)},share=${mem.shared ? "on" : "off"}`] : []),
      "-smp", String(opts.cpus),
      "-nodefaults", "-nographic", "-no-reboot",
      // QEMU is the client of the host's console socket; reconnect: a dropped connection comes back
      "-chardev", `socket,id=console,path=${qv(path.join(runDir, "console.sock"))},reconnect=1`,
      "-serial", "chardev:console",
      // pvpanic tells a guest panic (SHUTDOWN reason guest-panic, exit code 1) from a power-off
      "-device", "pvpanic",
      "-action", "panic=exit-failure",
      // A generation ID each QEMU makes anew: a kernel with the VMGENID driver reseeds its
      // randomness when a restored clone sees it change (Debian's cloud kernel has none: the
      // agent reseeds on a warm boot's first hello, see apps/agent/src/reseed.ts).
      "-device", "vmgenid,guid=auto",
      ...(opts.rtcBase ? ["-rtc", `base=${opts.rtcBase.toISOString().slice(0, 19)}`] : []),
      "-kernel", opts.kernel,
      ...(initrd ? ["-initrd", initrd] : []),
      "-append", append,
      "-qmp", `unix:${qv(this.qmpSocket)},server=on,wait=off`,
      "-chardev", `socket,id=agent,path=${qv(this.agentSocket)},server=on,wait=off`,
      "-device", "virtio-serial-pci,id=vser0",
      "-device", "virtserialport,bus=vser0.0,chardev=agent,name=provium.agent",
      ...drives.flatMap((d, i) => driveArgs(d, opts.drives![i]!)),
      ...(opts.nics ?? []).flatMap(nicArgs),
      ...shareArgs(opts.shares ?? []),
      ...(this.gdbSocket ? ["-chardev", `socket,id=gdb,path=${qv(this.gdbSocket)},server=on,wait=off`, "-gdb", "chardev:gdb"] : []),
      ...(opts.gdb === "wait" ? ["-S"] : []),
      ...(opts.extraArgs ?? []),
    ];
    this.proc = Bun.spawn([...DIE_WITH_PARENT, ...this.argv], { stdio: ["ignore", "ignore", "pipe", ...(opts.fds ?? [])] }) as Subprocess<"ignore", "ignore", "pipe">;
    this.exited = this.proc.exited.then(() => {
      const sig = this.proc.signalCode;
      const info: VmExit = { code: this.proc.exitCode, signal: sig == null ? null : String(sig) };
      this.exitInfo = info;
      return info;
    });
    this.stderrDone = this.drainStderr();
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** How QEMU ended, or null while it runs. */
  get exitStatus(): VmExit | null {
    return this.exitInfo;
  }

  /**
   * How the guest ended itself: "poweroff" (it powered off, or the power button), "panic"
   * (a kernel panic, seen through pvpanic), "reboot" (it rebooted itself: -no-reboot ends
   * QEMU then); null while it runs or when the host ended it.
   */
  get guestEnd(): GuestEnd | null {
    if (this.panicked || this.lastShutdown === "guest-panic") return "panic";
    if (this.lastShutdown === "guest-shutdown") return "poweroff";
    if (this.lastShutdown === "guest-reset") return "reboot";
    return null;
  }

  /** The connected QMP client (launch resolves only once it is connected). */
  get qmp(): QmpClient {
    return this._qmp!;
  }

  /**
   * Start QEMU and connect QMP. Fails with QEMU's stderr and the console tail if QEMU exits
   * (or never opens QMP) during startup.
   */
  static async launch(opts: LaunchOptions): Promise<QemuVm> {
    const qemu = findQemu(opts.qemuBinary);
    if (!fs.existsSync(opts.kernel)) throw new Error(`kernel not found: ${opts.kernel}`);
    if (opts.initrd && !fs.existsSync(opts.initrd)) throw new Error(`initrd not found: ${opts.initrd}`);
    for (const d of opts.drives ?? []) if (!fs.existsSync(d.file)) throw new Error(`drive image not found: ${d.file}`);
    if (opts.memoryFile?.shared === false && !fs.existsSync(opts.memoryFile.path)) throw new Error(`memory file not found: ${opts.memoryFile.path}`);
    kernelCmdline(opts); // refuse an overlong command line before anything is made
    for (const n of opts.nics ?? []) checkNic(n);
    for (const s of opts.shares ?? []) checkShare(s);
    const runDir = makeRunDir(opts.runDir);
    let vm: QemuVm;
    let console: ConsoleHost | null = null;
    let memoryDir: string | null = null;
    try {
      if (opts.memoryFile?.shared) memoryDir = ownedTempDir("ram", fs.existsSync(SHM) ? SHM : os.tmpdir());
      const withFiles = opts.bootFiles?.length || opts.rngSeed?.length;
      const initrd = withFiles ? writeInitrdWithFiles(opts.initrd ?? null, opts.bootFiles ?? [], opts.rngSeed, path.join(runDir, "initrd")) : (opts.initrd ?? null);
      // The console listener must exist before QEMU starts: QEMU connects while parsing its argv.
      if (opts.consolePrefix) fs.copyFileSync(opts.consolePrefix, path.join(runDir, "console.log"));
      console = await ConsoleHost.listen(path.join(runDir, "console.sock"), path.join(runDir, "console.log"));
      vm = new QemuVm(opts, qemu, runDir, (opts.drives ?? []).map((d, i) => prepareDrive(d, i, runDir, qemu)), console, initrd, memoryDir);
    } catch (e) {
      console?.close();
      fs.rmSync(runDir, { recursive: true, force: true });
      if (memoryDir) fs.rmSync(memoryDir, { recursive: true, force: true });
      throw e;
    }
    live.add(vm);
    vm.unregisterExit = onProcessExit(() => vm.killSync());
    const abort = new AbortController();
    void vm.exited.then(() => abort.abort(new Error("QEMU exited")));
    try {
      vm._qmp = await QmpClient.connect(vm.qmpSocket, { deadlineMs: opts.startTimeoutMs ?? 10_000, signal: abort.signal });
      vm._qmp.on("SHUTDOWN", (e) => (vm.lastShutdown = String(e.data?.reason ?? "")));
      vm._qmp.on("GUEST_PANICKED", () => (vm.panicked = true));
    } catch (e: any) {
      // Give a dying QEMU a moment so its exit status and last stderr lines make the message.
      await Promise.race([Promise.all([vm.exited, vm.stderrDone]), Bun.sleep(300)]);
      const exit = vm.exitInfo;
      const what = exit ? `QEMU exited during startup (${exit.signal ?? `code ${exit.code}`})` : `QEMU did not open its QMP socket (${e?.message ?? e})`;
      const err = new Error(`${what}\n${vm.describe()}`);
      await vm.shutdown({ graceMs: 0 });
      throw err;
    }
    return vm;
  }

  /** The last `lines` lines of the guest console (serial) log. */
  consoleTail(lines = 30): string {
    try {
      const st = fs.statSync(this.consoleLog);
      const len = Math.min(st.size, 256 * 1024);
      const fd = fs.openSync(this.consoleLog, "r");
      try {
        const buf = Buffer.alloc(len);
        fs.readSync(fd, buf, 0, len, st.size - len);
        return buf.toString("utf8").replace(/\r/g, "").split("\n").slice(-lines - 1).join("\n").trimEnd();
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return "";
    }
  }

  /** What QEMU printed on stderr (last 64 KiB). */
  stderrTail(): string {
    return this.stderrBuf;
  }

  /** Resolves once QEMU's stderr is read to its end (it exited), or after `ms`. */
  async stderrClosed(ms: number): Promise<void> {
    await Promise.race([this.stderrDone, Bun.sleep(ms)]);
  }

  /** QEMU's stderr, the console tail and the command line: what an error report needs. */
  describe(): string {
    const parts = [];
    if (this.stderrBuf.trim()) parts.push(`qemu stderr:\n${this.stderrBuf.trimEnd()}`);
    const tail = this.consoleTail();
    parts.push(tail ? `console (last lines):\n${tail}` : "console: (empty)");
    parts.push(`command: ${this.argv.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
    return parts.join("\n");
  }

  /**
   * Stop the VM: QMP `quit`, wait up to graceMs, then SIGKILL. Always removes the run dir.
   * Idempotent; concurrent calls share one shutdown.
   */
  shutdown(opts: { graceMs?: number } = {}): Promise<void> {
    this.shutdownP ??= this.doShutdown(opts.graceMs ?? 2000);
    return this.shutdownP;
  }

  private async doShutdown(graceMs: number): Promise<void> {
    try {
      if (!this.exitInfo && !this.done) {
        if (graceMs > 0 && this._qmp) {
          this._qmp.execute("quit").catch(() => {}); // the reply may race the socket closing
          await Promise.race([this.exited, Bun.sleep(graceMs)]);
        }
        if (!this.exitInfo) {
          this.kill();
          // Normally immediate; bounded in case the kernel holds the process (e.g. stuck in KVM).
          await Promise.race([this.exited, Bun.sleep(5000)]);
        }
      }
    } finally {
      this._qmp?.close();
      this.cleanupFiles();
    }
  }

  /** SIGKILL and remove the run dir, synchronously (for process-exit handlers). */
  killSync(): void {
    if (!this.exitInfo) this.kill();
    this._qmp?.close();
    this.cleanupFiles();
  }

  private kill(): void {
    try {
      process.kill(this.proc.pid, "SIGKILL");
    } catch {}
  }

  private cleanupFiles(): void {
    this.done = true;
    this.console.close();
    live.delete(this);
    this.unregisterExit();
    try {
      fs.rmSync(this.runDir, { recursive: true, force: true });
      if (this.memoryDir) fs.rmSync(this.memoryDir, { recursive: true, force: true });
    } catch {}
  }

  private async drainStderr(): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of this.proc.stderr) {
        this.stderrBuf += dec.decode(chunk, { stream: true });
        if (this.stderrBuf.length > STDERR_KEEP) this.stderrBuf = this.stderrBuf.slice(-STDERR_KEEP);
      }
    } catch {}
  }
}

// An overlay records its backing file by absolute path; QEMU opens that one read-only.
function prepareDrive(d: DriveOptions, i: number, runDir: string, qemu: string): VmDrive {
  const format = d.format ?? "raw";
  const id = `drive${i}`;
  if (!d.overlay) return { id, file: path.resolve(d.file), format, base: null, readOnly: !!d.readOnly };
  const base = path.resolve(d.file);
  const file = path.join(runDir, `${id}.qcow2`);
  const r = Bun.spawnSync([findQemuImg(qemu), "create", "-q", "-f", "qcow2", "-F", format, "-b", base, file], { stdout: "pipe", stderr: "pipe" });
  if (!r.success) throw new Error(`qemu-img create (overlay on ${base}) failed: ${r.stderr.toString().trim()}`);
  return { id, file, format: "qcow2", base, readOnly: !!d.readOnly };
}

function driveArgs(d: VmDrive, o: DriveOptions): string[] {
  const cache = o.cache ?? (d.base ? "unsafe" : "writeback");
  const drive = [`file=${qv(d.file)}`, `format=${d.format}`, "if=none", `id=${d.id}`, `cache=${cache}`, ...(d.readOnly ? ["readonly=on"] : [])];
  return ["-drive", drive.join(","), "-device", `virtio-blk-pci,drive=${d.id}`];
}

function nicArgs(n: NicOptions): string[] {
  return ["-netdev", `stream,id=${n.id},server=off,addr.type=unix,addr.path=${qv(n.socket)}`, "-device", `virtio-net-pci,netdev=${n.id},mac=${n.mac},romfile=`];
}

// guest-init.sh reads provium.net=MAC,ADDR/PREFIX (one per NIC) and configures the interface
// with that MAC: no DHCP round trip, and the address is set before the agent answers.
function nicCmdline(nics: NicOptions[]): string {
  return nics.filter((n) => n.address).map((n) => `provium.net=${n.mac},${n.address}`).join(" ");
}

function checkNic(n: NicOptions): void {
  if (!/^[A-Za-z][\w-]{0,30}$/.test(n.id)) throw new Error(`NIC id must be a letter then letters, digits, - or _ (at most 31), got ${JSON.stringify(n.id)}`);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(n.mac) || parseInt(n.mac.slice(0, 2), 16) & 1) throw new Error(`NIC ${n.id}: mac must be a unicast "52:54:00:xx:xx:xx", got ${JSON.stringify(n.mac)}`);
  if (n.address !== undefined && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(n.address)) throw new Error(`NIC ${n.id}: address must look like "10.0.1.2/24", got ${JSON.stringify(n.address)}`);
  let sock = false;
  try {
    sock = fs.statSync(n.socket).isSocket();
  } catch {}
  if (!sock) throw new Error(`NIC ${n.id}: no switch listening on ${n.socket} (QEMU 7.2 would stay unconnected without a word)`);
}

function makeRunDir(parent?: string): string {
  let base = parent ?? os.tmpdir();
  // sun_path holds 108 bytes: keep "<base>/provium-run-p<pid>-XXXXXX/agent.sock" short enough.
  if (path.join(base, `provium-run-p${process.pid}-XXXXXX`, "agent.sock").length > 100) base = "/tmp";
  fs.mkdirSync(base, { recursive: true });
  return ownedTempDir("run", base);
}
