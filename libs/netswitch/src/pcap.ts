// Classic libpcap files (what tcpdump -w writes and Wireshark opens): a 24-byte global header,
// then per frame a 16-byte record header and the frame. Little-endian, microsecond timestamps,
// LINKTYPE_ETHERNET.
import * as fs from "node:fs";

const MAGIC_US = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
export const PCAP_SNAPLEN = 65_535;

export function pcapHeader(): Uint8Array {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(MAGIC_US, 0);
  h.writeUInt16LE(2, 4); // version 2.4
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(PCAP_SNAPLEN, 16);
  h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return h;
}

/** One record: header + frame (cut at the snaplen), timestamped `timeMs` (ms since the epoch). */
export function pcapRecord(frame: Uint8Array, timeMs: number): Uint8Array {
  const incl = Math.min(frame.length, PCAP_SNAPLEN);
  const r = Buffer.alloc(16 + incl);
  const us = Math.round(timeMs * 1000);
  r.writeUInt32LE(Math.floor(us / 1e6), 0);
  r.writeUInt32LE(us % 1e6, 4);
  r.writeUInt32LE(incl, 8);
  r.writeUInt32LE(frame.length, 12);
  r.set(frame.subarray(0, incl), 16);
  return r;
}

/** A pcap file being written: each frame goes to the kernel as it comes (a crash loses nothing). */
export class PcapWriter {
  private fd: number | null;
  frames = 0;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, "w", 0o644);
    fs.writeSync(this.fd, pcapHeader());
  }

  write(frame: Uint8Array, timeMs: number): void {
    if (this.fd === null) return;
    fs.writeSync(this.fd, pcapRecord(frame, timeMs));
    this.frames++;
  }

  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
