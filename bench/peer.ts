// The peer: Debian's qemu-guest-agent (qemu-ga) in a busybox guest on the same kernel and the
// same kind of port, driven the way a harness built on it would: JSON commands, guest-exec
// then guest-exec-status polled without a pause until the process exited, files through
// guest-file-open/read/write/close with 1 MiB per call (its best case; the default read
// count is 4 KiB).
import type { QemuVm } from "@provium/vmm";
import { ByteChan, connectChan } from "./chan";
import { withDeadline } from "./floor";
import { launchRef, type RefImage } from "@provium/test-kit";

const MiB = 1024 * 1024;

export class PeerGuest {
  private constructor(
    public vm: QemuVm,
    private chan: ByteChan,
  ) {}

  /** Boots and waits for the first guest-sync answer; bootMs is QEMU launch -> that answer. */
  static async boot(opts: { image: RefImage; memoryMiB: number; cmdline: string; accel: "kvm" | "tcg" }, name = "peer") {
    const t = performance.now();
    const vm = await launchRef({ name, ...opts });
    const g = new PeerGuest(vm, await connectChan(vm.agentSocket));
    // Bytes written before qemu-ga opens the port wait in QEMU until it does.
    const id = 4242;
    if ((await withDeadline(g.call("guest-sync", { id }), 120_000, "qemu-ga boot")) !== id) throw new Error("qemu-ga: guest-sync answered another id");
    return { g, bootMs: performance.now() - t };
  }

  async call(cmd: string, args?: Record<string, unknown>): Promise<any> {
    this.chan.send(JSON.stringify(args ? { execute: cmd, arguments: args } : { execute: cmd }) + "\n");
    for (;;) {
      const line = (await this.chan.readLine()).replace(/^\xff+/, "").trim();
      if (!line) continue;
      const r = JSON.parse(line);
      if (r.error) throw new Error(`qemu-ga ${cmd}: ${r.error.desc ?? JSON.stringify(r.error)}`);
      return r.return;
    }
  }

  ping() {
    return this.call("guest-ping");
  }

  /** guest-exec, then guest-exec-status until exited; returns the final status. */
  async exec(path: string, args: string[] = [], capture = false) {
    const pid = (await this.call("guest-exec", { path, arg: args, "capture-output": capture })).pid;
    for (;;) {
      const st = await this.call("guest-exec-status", { pid });
      if (st.exited) return st;
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    const h = await this.call("guest-file-open", { path, mode: "r" });
    const parts: Uint8Array[] = [];
    try {
      for (;;) {
        const r = await this.call("guest-file-read", { handle: h, count: MiB });
        if (r.count) parts.push(Buffer.from(r["buf-b64"], "base64"));
        if (r.eof || !r.count) break;
      }
    } finally {
      await this.call("guest-file-close", { handle: h });
    }
    return Buffer.concat(parts);
  }

  async writeFile(path: string, data: Uint8Array) {
    const h = await this.call("guest-file-open", { path, mode: "w" });
    try {
      for (let at = 0; at < data.byteLength; at += MiB) {
        const piece = data.subarray(at, at + MiB);
        const r = await this.call("guest-file-write", { handle: h, "buf-b64": Buffer.from(piece).toString("base64") });
        if (r.count !== piece.byteLength) throw new Error(`qemu-ga: wrote ${r.count} of ${piece.byteLength} bytes`);
      }
    } finally {
      await this.call("guest-file-close", { handle: h });
    }
  }

  async shutdown() {
    this.chan.close();
    await this.vm.shutdown({ graceMs: 0 });
  }
}
