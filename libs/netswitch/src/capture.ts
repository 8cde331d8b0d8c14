// Taps on a switch. A bridge-wide tap sees every frame once, as a port enters the switch
// (before partitions and impairments: what each guest sent). A NIC tap sees what that guest
// sent and what the switch delivered to it (after impairments): what tcpdump on its eth0 sees.
import { pcapHeader, pcapRecord, PcapWriter } from "./pcap";


/** Waits `ms`, or less when the wake function handed to `setWaiter` is called (new data). */
async function sleepUnlessWoken(ms: number, setWaiter: (wake: (() => void) | null) => void) {
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    setWaiter(() => {
      clearTimeout(t);
      resolve();
    });
  });
  setWaiter(null);
}
export interface CapturedFrame {
  /** ms since the epoch, sub-ms precision */
  time: number;
  /** the port that sent it */
  from: string;
  /** the port it was delivered to (NIC taps, delivered frames only), else null */
  to: string | null;
  frame: Uint8Array;
}

export interface CaptureSink {
  /** `frame` is only valid during the call: copy what you keep */
  write(f: CapturedFrame): void;
  close(): void;
}

/** Frames waiting for a reader, oldest first, bounded: past `maxBytes` new frames are counted
 *  in `lost` instead (a test that never reads must not grow the runner without end). */
export class FrameQueue implements CaptureSink {
  private frames: CapturedFrame[] = [];
  private bytes = 0;
  private waiter: (() => void) | null = null;
  lost = 0;
  closed = false;

  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  write(f: CapturedFrame): void {
    if (this.closed) return;
    if (this.bytes + f.frame.length > this.maxBytes) {
      this.lost++;
      return;
    }
    this.frames.push({ ...f, frame: f.frame.slice() });
    this.bytes += f.frame.length;
    this.wake();
  }

  /** The next frame, waiting up to `timeoutMs`; null on timeout or once closed and empty. */
  async next(timeoutMs: number): Promise<CapturedFrame | null> {
    if (!this.frames.length && !this.closed) {
      await sleepUnlessWoken(timeoutMs, (w) => (this.waiter = w));
    }
    const f = this.frames.shift() ?? null;
    if (f) this.bytes -= f.frame.length;
    return f;
  }

  /** Everything waiting now, without blocking. */
  drain(): CapturedFrame[] {
    const all = this.frames;
    this.frames = [];
    this.bytes = 0;
    return all;
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    this.waiter?.();
  }
}

/** Frames straight into a pcap file. */
export class PcapSink implements CaptureSink {
  private readonly writer: PcapWriter;
  constructor(path: string) {
    this.writer = new PcapWriter(path);
  }
  get frames(): number {
    return this.writer.frames;
  }
  write(f: CapturedFrame): void {
    this.writer.write(f.frame, f.time);
  }
  close(): void {
    this.writer.close();
  }
}

/** The bytes of a pcap file as a stream (what `tcpdump -w -` writes): the global header, then
 *  a record per frame, for a reader that polls. Bounded like FrameQueue: past `maxBytes`
 *  waiting, new frames are counted in `lost`. */
export class PcapStream implements CaptureSink {
  private chunks: Uint8Array[] = [pcapHeader()];
  private bytes = 24;
  private waiter: (() => void) | null = null;
  frames = 0;
  lost = 0;
  closed = false;

  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  write(f: CapturedFrame): void {
    if (this.closed) return;
    const r = pcapRecord(f.frame, f.time);
    if (this.bytes + r.length > this.maxBytes) {
      this.lost++;
      return;
    }
    this.chunks.push(r);
    this.bytes += r.length;
    this.frames++;
    this.waiter?.();
  }

  /** What is waiting, after waiting up to `timeoutMs` for something; `eof` once closed and read. */
  async read(timeoutMs: number): Promise<{ data: Uint8Array; eof: boolean }> {
    if (!this.chunks.length && !this.closed && timeoutMs > 0) {
      await sleepUnlessWoken(timeoutMs, (w) => (this.waiter = w));
    }
    const data = Buffer.concat(this.chunks);
    this.chunks = [];
    this.bytes = 0;
    return { data, eof: this.closed };
  }

  close(): void {
    this.closed = true;
    this.waiter?.();
  }
}
