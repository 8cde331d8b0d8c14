// Just enough ELF reading to tell a static binary from a dynamic one (its PT_INTERP), which
// decides whether a binary needs a loader and libraries beside it in the guest.
import * as fs from "node:fs";

/** The requested program interpreter of an ELF64 little-endian file, null when static or not ELF. */
export function elfInterpreter(file: string): string | null {
  const fd = fs.openSync(file, "r");
  try {
    const eh = Buffer.alloc(64);
    if (fs.readSync(fd, eh, 0, 64, 0) < 64) return null;
    if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return null; // ELF, 64-bit, LE
    const phoff = Number(eh.readBigUInt64LE(32));
    const phentsize = eh.readUInt16LE(54);
    const phnum = eh.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    fs.readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (ph.readUInt32LE(o) !== 3) continue; // PT_INTERP
      const off = Number(ph.readBigUInt64LE(o + 8));
      const size = Number(ph.readBigUInt64LE(o + 32));
      const s = Buffer.alloc(size);
      fs.readSync(fd, s, 0, size, off);
      return s.toString("latin1").replace(/\0.*$/s, "");
    }
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

export function isElf(file: string): boolean {
  const fd = fs.openSync(file, "r");
  try {
    const b = Buffer.alloc(4);
    return fs.readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32BE(0) === 0x7f454c46;
  } finally {
    fs.closeSync(fd);
  }
}
