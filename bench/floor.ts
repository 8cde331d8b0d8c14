// The raw floor: a busybox guest on the same kernel echoing bytes over the same kind of
// virtio-serial port (see FLOOR_INIT in guests.ts). What no agent can beat: the host socket,
// QEMU's chardev and virtio-serial, the guest kernel's port driver and a read/write loop.
import { INCOMING_ARGS, loadMemory, openIncoming, saveMemory, type QemuVm } from "@provium/vmm";
import { ByteChan, connectChan } from "./chan";
import { launchRef, type RefImage } from "@provium/test-kit";

export class FloorGuest {
  private constructor(
    public vm: QemuVm,
    public chan: ByteChan,
  ) {}

  /** Boots and waits for "hello"; bootMs is QEMU launch -> hello. */
  static async boot(opts: { image: RefImage; memoryMiB: number; cmdline: string; accel: "kvm" | "tcg" }, name = "floor") {
    const t = performance.now();
    const vm = await launchRef({ name, ...opts });
    const chan = await connectChan(vm.agentSocket);
    const hello = await withDeadline(chan.readLine(), 120_000, "floor guest boot");
    if (hello !== "hello") throw new Error(`floor guest said ${JSON.stringify(hello)}`);
    const g = new FloorGuest(vm, chan);
    return { g, bootMs: performance.now() - t };
  }

  async ping() {
    this.chan.send("ping\n");
    const r = await this.chan.readLine();
    if (r !== "pong") throw new Error(`floor: ping answered ${JSON.stringify(r)}`);
  }

  /** `count` timed round trips of `size` bytes through one dd echo (one untimed first). */
  async echo(size: number, count: number): Promise<number[]> {
    const msg = new Uint8Array(size).map((_, i) => (i * 7 + 1) & 255);
    this.chan.send(`echo ${size * (count + 1)}\n`);
    const out: number[] = [];
    for (let i = 0; i <= count; i++) {
      const t = performance.now();
      this.chan.send(msg);
      const back = await this.chan.readExact(size);
      if (i > 0) out.push(performance.now() - t);
      if (back[size - 1] !== msg[size - 1]) throw new Error("floor: echo came back different");
    }
    return out;
  }

  /** `n` starts of /bin/true one after another in the guest's shell, and one line round trip. */
  async starts(n: number) {
    this.chan.send(`true ${n}\n`);
    const r = await this.chan.readLine();
    if (r !== "ok") throw new Error(`floor: true answered ${JSON.stringify(r)}`);
  }

  /** Host -> guest: `sink n` + n bytes until "ok" (includes starting dd in the guest). */
  async sink(data: Uint8Array) {
    this.chan.send(`sink ${data.byteLength}\n`);
    this.chan.send(data);
    const r = await this.chan.readLine();
    if (r !== "ok") throw new Error(`floor: sink answered ${JSON.stringify(r)}`);
  }

  /** Guest -> host: `src n` until n bytes arrived (includes starting dd in the guest). */
  async src(n: number) {
    this.chan.send(`src ${n}\n`);
    await this.chan.discard(n);
  }

  async snapshot(file: string) {
    const bytes = await saveMemory(this.vm, file);
    return bytes;
  }

  /**
   * A fresh QEMU loads `file` and runs on, until the guest answers a ping (the old QEMU is
   * already gone). Times QEMU launch -> pong, as GuestVm.restore's launch -> hello.
   */
  static async restore(file: string, opts: { image: RefImage; memoryMiB: number; cmdline: string; accel: "kvm" | "tcg" }, name = "floor-r") {
    const t = performance.now();
    const stream = openIncoming(file); // as GuestVm.restore
    const vm = await launchRef({ name, ...opts, extraArgs: INCOMING_ARGS, fds: stream.fds }).finally(() => stream.close());
    const chan = await connectChan(vm.agentSocket);
    await loadMemory(vm, stream);
    const resumed = vm.qmp.execute("cont"); // and the ping at once, as GuestVm.restore
    const g = new FloorGuest(vm, chan);
    await withDeadline(Promise.all([g.ping(), resumed]), 60_000, "floor guest restore");
    return { g, ms: performance.now() - t };
  }

  async shutdown() {
    this.chan.close();
    await this.vm.shutdown({ graceMs: 0 });
  }
}

export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: no answer within ${ms / 1000} s`)), ms))),
  ]);
}
