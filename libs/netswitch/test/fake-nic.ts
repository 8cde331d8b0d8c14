// A stand-in for QEMU's `-netdev stream,server=off` client: connects to a switch port and
// speaks its records (4-byte big-endian length + frame).
import type { Socket } from "bun";
import { encodeRecord, parseMac, RecordReader } from "../src/index";

export class FakeNic {
  readonly received: Uint8Array[] = [];
  private reader = new RecordReader();
  private constructor(readonly mac: string, private sock: Socket<undefined> | null) {}

  static async connect(path: string, mac: string): Promise<FakeNic> {
    const nic = new FakeNic(mac, null);
    nic.sock = await Bun.connect({
      unix: path,
      socket: {
        data: (_s, chunk) => nic.reader.push(chunk, (frame) => nic.received.push(frame.slice())),
        drain: () => nic.flush(),
        close: () => {
          nic.closed = true;
        },
      },
    });
    return nic;
  }
  closed = false;

  /** Send a frame to `dst` ("ff:ff:ff:ff:ff:ff" for broadcast) carrying `payload`. */
  send(dst: string, payload: string | Uint8Array = "x"): void {
    this.writeRaw(encodeRecord(ethFrame(dst, this.mac, payload)));
  }
  /** Bytes the socket did not take yet, written on drain (as QEMU queues them). */
  private backlog: Uint8Array[] = [];
  writeRaw(bytes: Uint8Array): void {
    this.backlog.push(bytes);
    if (this.backlog.length === 1) this.flush();
  }
  private flush(): void {
    while (this.backlog.length) {
      const d = this.backlog[0]!;
      const n = Math.max(this.sock!.write(d), 0);
      if (n < d.length) {
        this.backlog[0] = d.slice(n);
        return;
      }
      this.backlog.shift();
    }
  }
  /** Wait until `n` frames arrived (or `ms` passed); returns how many there are. */
  async waitFor(n: number, ms = 2000): Promise<number> {
    const end = performance.now() + ms;
    while (this.received.length < n && performance.now() < end) await Bun.sleep(2);
    return this.received.length;
  }
  payloads(): string[] {
    return this.received.map((f) => Buffer.from(f.subarray(14)).toString());
  }
  close(): void {
    this.sock?.end();
  }
}

export function ethFrame(dst: string, src: string, payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const f = new Uint8Array(14 + body.length);
  f.set(parseMac(dst), 0);
  f.set(parseMac(src), 6);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental ethertype
  f.set(body, 14);
  return f;
}

export const BROADCAST = "ff:ff:ff:ff:ff:ff";
