// One guest VM as the host sees it: a QEMU process, its control plane (QMP) and the
// agent connection, with the lifecycle and the error wording existing tests match on.
import { QemuVm } from "@provium/vmm";
import type { AgentClient } from "@provium/protocol";
import { connectAgent } from "./agent-socket";
import type { BootImage } from "./images";

export type VmState = "created" | "booted" | "paused" | "shutdown";

export interface VmSpec {
  name: string;
  profile: string;
  memoryMiB: number;
  cpus: number;
}

export class GuestVm {
  state: VmState = "created";
  qemu: QemuVm | null = null;
  agent: AgentClient | null = null;
  private agentLost: Error | null = null;
  private shutdownHooks: (() => void)[] = [];

  constructor(
    readonly spec: VmSpec,
    private readonly onLifecycle: (kind: "vm_spawned" | "vm_shutdown", info: { vm: string; pid: number; run_dir: string }) => void,
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
    this.qemu = await QemuVm.launch({
      name: this.spec.name,
      kernel: image.kernel,
      initrd: image.initrd,
      cmdline: image.cmdline,
      memoryMiB: this.spec.memoryMiB,
      cpus: this.spec.cpus,
      accel,
    });
    this.onLifecycle("vm_spawned", { vm: this.spec.name, pid: this.qemu.pid, run_dir: this.qemu.runDir });
    this.agent = await connectAgent(this.qemu.agentSocket, (why) => (this.agentLost ??= why));
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the agent of vm ${this.spec.name} did not answer within ${agentDeadlineMs / 1000} s of boot${this.consoleExcerpt()}`)),
        agentDeadlineMs,
      );
    });
    const died = this.qemu.exited.then((x) => {
      throw new Error(`QEMU for vm ${this.spec.name} exited during boot (${x.signal ?? "code " + x.code})${this.consoleExcerpt()}`);
    });
    try {
      await Promise.race([this.agent.hello(), deadline, died]);
    } catch (e) {
      await this.shutdown();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  consoleExcerpt(lines = 20) {
    const tail = this.qemu?.consoleTail(lines).trimEnd();
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
      await this.stop();
    } finally {
      for (const fn of this.shutdownHooks.splice(0)) fn();
    }
  }

  private async stop() {
    this.agent?.close(new Error("VM is shutdown"));
    if (!this.qemu) return;
    await this.qemu.shutdown();
    this.onLifecycle("vm_shutdown", { vm: this.spec.name, pid: this.qemu.pid, run_dir: this.qemu.runDir });
  }
}
