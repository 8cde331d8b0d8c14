// QEMU's stream netdev (-netdev stream / socket) sends each Ethernet frame as one record: a
// 4-byte big-endian length, then the frame. A RecordReader reassembles records from the
// arbitrary chunks a stream socket delivers (many records per chunk, or one split over several).

/** The largest frame we accept: a 64 KiB virtio-net frame plus headroom. A longer length is a
 *  corrupt or hostile stream (the guest is untrusted), and the connection is dropped. */
export const MAX_FRAME = 65_550;
/** The smallest Ethernet frame we forward: destination + source MAC + ethertype. */
export const MIN_FRAME = 14;

export class FrameError extends Error {}

export class RecordReader {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initial = 256 * 1024) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  /**
   * Append a chunk and call `onRecord(frame, record)` for each complete record: `frame` is the
   * Ethernet frame, `record` the same bytes with the length prefix (to forward unchanged).
   * Both alias the reader's buffer and are valid only until `onBatchEnd`, which runs after the
   * chunk's last record and before the buffer is compacted (a place to write out what aliases
   * it). Throws FrameError on a length past MAX_FRAME.
   */
  push(chunk: Uint8Array, onRecord: (frame: Uint8Array, record: Uint8Array) => void, onBatchEnd?: () => void): void {
    if (this.len + chunk.length > this.buf.length) this.grow(this.len + chunk.length);
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
    let off = 0;
    while (this.len - off >= 4) {
      const n = this.view.getUint32(off);
      if (n > MAX_FRAME) throw new FrameError(`frame of ${n} bytes (the limit is ${MAX_FRAME})`);
      if (this.len - off - 4 < n) break;
      onRecord(this.buf.subarray(off + 4, off + 4 + n), this.buf.subarray(off, off + 4 + n));
      off += 4 + n;
    }
    onBatchEnd?.();
    if (off) {
      this.buf.copyWithin(0, off, this.len);
      this.len -= off;
    }
  }

  private grow(need: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, need));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** One frame as a stream record (length prefix + a copy of the frame). */
export function encodeRecord(frame: Uint8Array): Uint8Array {
  const rec = new Uint8Array(4 + frame.length);
  new DataView(rec.buffer).setUint32(0, frame.length);
  rec.set(frame, 4);
  return rec;
}

/** The 48-bit MAC at `off` as a number (a cheap Map key). */
export function macAt(frame: Uint8Array, off: number): number {
  const low = ((frame[off + 2]! << 24) | (frame[off + 3]! << 16) | (frame[off + 4]! << 8) | frame[off + 5]!) >>> 0;
  return frame[off]! * 2 ** 40 + frame[off + 1]! * 2 ** 32 + low;
}

/** Broadcast and multicast destinations have bit 0 of the first byte set. */
export const isGroupMac = (frame: Uint8Array) => (frame[0]! & 1) === 1;

/** "52:54:00:01:00:02" -> bytes; throws on anything else. */
export function parseMac(mac: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(mac);
  if (!m) throw new Error(`not a MAC address: ${JSON.stringify(mac)}`);
  return Uint8Array.from(m.slice(1).map((h) => parseInt(h, 16)));
}

export const formatMac = (b: Uint8Array, off = 0) => Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, "0")).join(":");
