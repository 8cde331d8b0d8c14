// A learning Ethernet switch in the host process: ports are unix sockets QEMU connects to
// (port.ts), frames go to the port their destination MAC was last seen on, else to every other
// port; per-direction rules (impairments.ts, direction.ts) sit between ports; taps (capture.ts)
// see the frames. No root, no TAP device, no kernel bridge.
import * as fs from "node:fs";
import * as path from "node:path";
import type { CaptureSink } from "./capture";
import type { NicCounters } from "./counters";
import { Direction } from "./direction";
import { encodeRecord, isGroupMac, macAt, MIN_FRAME } from "./frames";
import { ImpairmentTable, type ImpairmentState } from "./impairments";
import { Link, Port } from "./port";

/** Source MACs learned at most: a guest inventing addresses makes the switch flood, not grow. */
export const MAX_MACS = 4096;

export interface SwitchState {
  unplugged: string[];
  impairments: ImpairmentState;
}

export class Switch {
  readonly impairments = new ImpairmentTable();
  private readonly ports = new Map<string, Port>();
  private readonly macs = new Map<number, Link>();
  private readonly directions = new Map<string, Direction>();
  private readonly bridgeTaps = new Set<CaptureSink>();
  private readonly portTaps = new Map<string, Set<CaptureSink>>();
  /** links with records queued outside a read (delayed or shaped frames) */
  private dirty = new Set<Link>();
  private inBatch = false;
  private nextPortFile = 0;
  private closed = false;

  /** `dir` holds the port sockets: keep it short (a unix socket path has 107 bytes). */
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Open a port; returns the socket path QEMU connects to. Listening starts now, before any
   *  QEMU starts: QEMU 7.2's stream client never retries a missing socket. */
  addPort(name: string): string {
    if (this.closed) throw new Error("the switch is closed");
    if (this.ports.has(name)) throw new Error(`port ${name} already exists`);
    const file = path.join(this.dir, `p${this.nextPortFile++}.sock`);
    if (Buffer.byteLength(file) > 107) throw new Error(`socket path too long for a unix socket (${Buffer.byteLength(file)} bytes > 107): ${file}`);
    const port = new Port(name, file, {
      frame: (link, frame, record) => this.onFrame(link, frame, record),
      batchEnd: () => this.flushAll(),
      closed: (link) => this.forgetLink(link),
    });
    this.ports.set(name, port);
    return file;
  }

  removePort(name: string): void {
    const port = this.ports.get(name);
    if (!port) return;
    port.close();
    for (const l of port.links) this.forgetLink(l);
    this.ports.delete(name);
    this.impairments.forget(name);
    for (const [k, d] of this.directions) if (k.startsWith(`${name}\u0000`) || k.endsWith(`\u0000${name}`)) (d.stop(), this.directions.delete(k));
    for (const t of this.portTaps.get(name) ?? []) t.close();
    this.portTaps.delete(name);
  }

  portNames(): string[] {
    return [...this.ports.keys()];
  }
  portPath(name: string): string | undefined {
    return this.ports.get(name)?.path;
  }
  /** How many QEMU connections a port has (a restore target adds one while the old QEMU runs). */
  connections(name: string): number {
    return this.ports.get(name)?.links.size ?? 0;
  }

  /** Unplug (frames from and to the port go nowhere, connections stay) or plug it back. */
  setPlugged(name: string, plugged: boolean): void {
    this.port(name).plugged = plugged;
  }

  counters(name: string): NicCounters {
    return { ...this.port(name).counters };
  }

  /** Tap every frame entering the switch (`port` omitted), or what one port sends and receives. */
  tap(sink: CaptureSink, port?: string): () => void {
    if (port === undefined) {
      this.bridgeTaps.add(sink);
      return () => (this.bridgeTaps.delete(sink), sink.close());
    }
    this.port(port);
    let set = this.portTaps.get(port);
    if (!set) this.portTaps.set(port, (set = new Set()));
    set.add(sink);
    return () => (set!.delete(sink), sink.close());
  }

  save(): SwitchState {
    return { unplugged: [...this.ports.values()].filter((p) => !p.plugged).map((p) => p.name), impairments: this.impairments.save() };
  }
  load(s: SwitchState): void {
    for (const p of this.ports.values()) p.plugged = !s.unplugged.includes(p.name);
    this.impairments.load(s.impairments);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const name of [...this.ports.keys()]) this.removePort(name);
    for (const d of this.directions.values()) d.stop();
    for (const t of this.bridgeTaps) t.close();
    this.bridgeTaps.clear();
  }

  private port(name: string): Port {
    const p = this.ports.get(name);
    if (!p) throw new Error(`no port ${name} on this switch`);
    return p;
  }

  private onFrame(link: Link, frame: Uint8Array, record: Uint8Array): void {
    this.inBatch = true;
    const src = link.port;
    if (!src.plugged) return;
    if (frame.length < MIN_FRAME) {
      src.counters.errors++;
      return;
    }
    src.counters.tx_packets++;
    src.counters.tx_bytes += frame.length;
    if (this.bridgeTaps.size || this.portTaps.size) this.tapIngress(src.name, frame);
    const smac = macAt(frame, 6);
    if (this.macs.get(smac) !== link && !isGroupMac(frame.subarray(6)) && (this.macs.has(smac) || this.macs.size < MAX_MACS)) this.macs.set(smac, link);
    const dst = isGroupMac(frame) ? undefined : this.macs.get(macAt(frame, 0));
    if (dst) {
      if (dst.port !== src) this.forward(src, dst, frame, record);
      return;
    }
    for (const p of this.ports.values()) if (p !== src) for (const l of p.links) this.forward(src, l, frame, record);
  }

  private forward(src: Port, dst: Link, frame: Uint8Array, record: Uint8Array): void {
    if (!dst.port.plugged) return;
    if (this.impairments.empty) return this.deliver(src.name, dst, frame, record);
    if (this.impairments.isBlocked(src.name, dst.port.name)) {
      src.counters.dropped++;
      return;
    }
    const rule = this.impairments.effective(src.name, dst.port.name);
    if (!rule.dropRate && !rule.delayMs && !rule.jitterMs && !rule.bps) return this.deliver(src.name, dst, frame, record);
    this.direction(src, dst.port).send(frame.slice(), rule);
  }

  private direction(src: Port, dst: Port): Direction {
    const k = `${src.name}\u0000${dst.name}`;
    let d = this.directions.get(k);
    if (!d) {
      d = new Direction(
        (frame) => {
          // Resolved when the frame leaves the queue: the port's QEMU may have changed meanwhile
          // (a restore), so go where its destination MAC lives now, else to all its links.
          const learned = isGroupMac(frame) ? undefined : this.macs.get(macAt(frame, 0));
          const record = encodeRecord(frame);
          if (learned?.port === dst) this.deliver(src.name, learned, frame, record);
          else for (const l of dst.links) this.deliver(src.name, l, frame, record);
          if (!this.inBatch) this.flushAll();
        },
        () => src.counters.dropped++,
      );
      this.directions.set(k, d);
    }
    return d;
  }

  private deliver(from: string, dst: Link, frame: Uint8Array, record: Uint8Array): void {
    const port = dst.port;
    if (!dst.queue(record)) {
      port.counters.dropped++;
      return;
    }
    port.counters.rx_packets++;
    port.counters.rx_bytes += frame.length;
    this.dirty.add(dst);
    const taps = this.portTaps.get(port.name);
    if (taps) for (const t of taps) t.write({ time: now(), from, to: port.name, frame });
  }

  private tapIngress(from: string, frame: Uint8Array): void {
    const f = { time: now(), from, to: null, frame };
    for (const t of this.bridgeTaps) t.write(f);
    for (const t of this.portTaps.get(from) ?? []) t.write(f);
  }

  private flushAll(): void {
    this.inBatch = false;
    for (const l of this.dirty) l.flush();
    this.dirty.clear();
  }

  private forgetLink(link: Link): void {
    for (const [mac, l] of this.macs) if (l === link) this.macs.delete(mac);
    this.dirty.delete(link);
  }
}

const now = () => performance.timeOrigin + performance.now();
