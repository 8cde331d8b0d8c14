// A switch port: one unix socket that QEMU's `-netdev stream,server=off` connects to. The path
// is the port's identity (no handshake). A port accepts several connections: a QEMU launched
// ahead for a restore connects while the VM's current QEMU still runs; MAC learning decides
// which one gets unicast frames.
import * as fs from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import { zeroCounters, type NicCounters } from "./counters";
import { FrameError, RecordReader } from "./frames";

/** Bytes a connection may have waiting to be written before frames for it are dropped (a
 *  paused QEMU reads nothing). */
const OUT_LIMIT = 1024 * 1024;

export interface PortEvents {
  /** a record arrived on `link`; `frame`/`record` alias a buffer valid until `batchEnd` */
  frame(link: Link, frame: Uint8Array, record: Uint8Array): void;
  /** the records of one read are done: write out what aliases them */
  batchEnd(): void;
  /** a connection closed (or was dropped for a bad frame) */
  closed(link: Link): void;
}

export class Link {
  readonly reader = new RecordReader();
  /** records collected during one read, written in one syscall at batchEnd */
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  /** what the socket did not take yet (written on drain) */
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  open = true;

  constructor(
    readonly port: Port,
    readonly socket: Socket<Link>,
  ) {}

  /** Queue a record (it may alias a read buffer: it is written or copied before that changes). */
  queue(record: Uint8Array): boolean {
    if (this.backlogBytes + this.pendingBytes + record.length > OUT_LIMIT) return false;
    this.pending.push(record);
    this.pendingBytes += record.length;
    return true;
  }

  /** Write what was queued: one write for the batch; the rest is kept (copied) for drain. */
  flush(): void {
    if (!this.pending.length) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.open) return;
    if (this.backlog.length) {
      this.backlog.push(data.slice());
      this.backlogBytes += data.length;
      return;
    }
    const n = Math.max(this.socket.write(data), 0);
    if (n < data.length) {
      this.backlog.push(data.slice(n));
      this.backlogBytes += data.length - n;
    }
  }

  drain(): void {
    while (this.backlog.length) {
      const d = this.backlog[0]!;
      const n = Math.max(this.socket.write(d), 0);
      this.backlogBytes -= n;
      if (n < d.length) {
        this.backlog[0] = d.subarray(n);
        return;
      }
      this.backlog.shift();
    }
  }

  close(): void {
    this.open = false;
    this.backlog = [];
    this.backlogBytes = 0;
    this.socket.end();
  }
}

export class Port {
  readonly links = new Set<Link>();
  readonly counters: NicCounters = zeroCounters();
  /** false: frames from and to this port go nowhere (the cable is out; connections stay) */
  plugged = true;
  private listener: UnixSocketListener<Link>;

  constructor(
    readonly name: string,
    readonly path: string,
    events: PortEvents,
  ) {
    try {
      fs.unlinkSync(path);
    } catch {}
    const port = this;
    this.listener = Bun.listen<Link>({
      unix: path,
      socket: {
        open(s) {
          s.data = new Link(port, s);
          port.links.add(s.data);
        },
        data(s, chunk) {
          const link = s.data;
          try {
            link.reader.push(chunk, (frame, record) => events.frame(link, frame, record), () => events.batchEnd());
          } catch (e) {
            if (!(e instanceof FrameError)) throw e;
            // An untrusted guest's QEMU sent garbage: drop that connection, keep the switch
            // (and write out what the records before the bad one queued).
            port.counters.errors++;
            events.batchEnd();
            link.close();
          }
        },
        drain(s) {
          s.data.drain();
        },
        close(s) {
          const link = s.data;
          if (!link) return;
          link.open = false;
          port.links.delete(link);
          events.closed(link);
        },
        error() {},
      },
    });
  }

  close(): void {
    for (const l of this.links) l.close();
    this.listener.stop(true);
    try {
      fs.unlinkSync(this.path);
    } catch {}
  }
}
