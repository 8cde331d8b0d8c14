// vm:console():read() streams: what the guest prints on its serial console from the moment
// the stream opens, buffered on the host until Lua reads it (Lua's Stream long-polls
// `console.read`). A stream ends when its QEMU does (shutdown, death, a restore's new QEMU).
import type { QemuVm } from "@provium/vmm";
import type { GuestVm } from "./guest";

// A test that never reads keeps at most this much; the oldest output goes first.
const KEEP_BYTES = 8 << 20;

interface ConsoleStream {
  chunks: Uint8Array[];
  bytes: number;
  eof: boolean;
  wake: (() => void) | null;
  off: () => void;
}

export class ConsoleStreams {
  private streams = new Map<number, ConsoleStream>();
  private next = 1;

  open(vm: GuestVm): number {
    const handle = this.next++;
    if (vm.state === "dead") {
      // its console ended with it (read_log still has what it printed)
      this.streams.set(handle, { chunks: [], bytes: 0, eof: true, wake: null, off: () => {} });
      return handle;
    }
    const qemu: QemuVm = vm.machine();
    const s: ConsoleStream = { chunks: [], bytes: 0, eof: false, wake: null, off: () => {} };
    const wake = () => {
      s.wake?.();
      s.wake = null;
    };
    s.off = qemu.console.subscribe((chunk) => {
      s.chunks.push(Uint8Array.from(chunk));
      s.bytes += chunk.length;
      while (s.bytes > KEEP_BYTES && s.chunks.length > 1) s.bytes -= s.chunks.shift()!.length;
      wake();
    });
    void qemu.exited.then(() => {
      s.eof = true;
      s.off();
      wake();
    });
    this.streams.set(handle, s);
    return handle;
  }

  /** What arrived since the last read, waiting up to timeoutMs for something (or the end). */
  async read(handle: number, timeoutMs: number): Promise<{ data: Uint8Array; eof: boolean }> {
    const s = this.streams.get(handle);
    if (!s) return { data: new Uint8Array(0), eof: true }; // closed
    if (!s.chunks.length && !s.eof && timeoutMs > 0) {
      let timer: Timer | undefined;
      await new Promise<void>((resolve) => {
        s.wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      s.wake = null;
    }
    const data = Buffer.concat(s.chunks.splice(0));
    s.bytes = 0;
    return { data, eof: s.eof && data.length === 0 };
  }

  close(handle: number) {
    this.streams.get(handle)?.off();
    this.streams.delete(handle);
  }

  closeAll() {
    for (const h of [...this.streams.keys()]) this.close(h);
  }
}
