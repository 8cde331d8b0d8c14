// "newc" cpio (the format the Linux initramfs unpacker reads), written in TypeScript so image
// builds need no cpio binary and no root (device nodes are just header fields).
// Layout per entry: 110-byte ASCII header, NUL-terminated name, pad to 4, data, pad to 4.

export type CpioEntry =
  | { type: "file"; path: string; data: Uint8Array; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { type: "dir"; path: string; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { type: "symlink"; path: string; target: string; uid?: number; gid?: number; mtime?: number }
  | { type: "char" | "block"; path: string; major: number; minor: number; mode?: number; uid?: number; gid?: number; mtime?: number };

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const TRAILER = "TRAILER!!!";
const enc = new TextEncoder();

/** Archive names are relative ("init", "provium/bin/busybox"): the kernel unpacks relative to /. */
export function normalizeCpioPath(p: string): string {
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.some((s) => s === "..")) throw new Error(`cpio: path escapes the root: ${p}`);
  if (parts.length === 0) throw new Error(`cpio: empty path: ${p}`);
  return parts.join("/");
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`cpio: header field out of range: ${n}`);
  return n.toString(16).padStart(8, "0");
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(f: { ino: number; mode: number; uid: number; gid: number; nlink: number; mtime: number; size: number; rmaj: number; rmin: number; name: string }): Uint8Array {
  const name = enc.encode(f.name);
  const namesize = name.length + 1;
  const h =
    "070701" + hex8(f.ino) + hex8(f.mode) + hex8(f.uid) + hex8(f.gid) + hex8(f.nlink) + hex8(f.mtime) + hex8(f.size) +
    hex8(0) + hex8(0) + hex8(f.rmaj) + hex8(f.rmin) + hex8(namesize) + hex8(0);
  const out = new Uint8Array(110 + namesize + pad4(110 + namesize));
  out.set(enc.encode(h), 0);
  out.set(name, 110);
  return out;
}

/**
 * Encode entries as a list of chunks (file data is referenced, not copied) ending with the
 * trailer. Write the chunks in order, or join them with encodeCpio.
 */
export function cpioChunks(entries: Iterable<CpioEntry>): Uint8Array[] {
  const out: Uint8Array[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = normalizeCpioPath(e.path);
    const common = { ino: ino++, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? 0, name, rmaj: 0, rmin: 0 };
    let data: Uint8Array | undefined;
    let mode: number;
    let nlink = 1;
    switch (e.type) {
      case "file":
        mode = S_IFREG | ((e.mode ?? 0o644) & 0o7777);
        data = e.data;
        break;
      case "dir":
        mode = S_IFDIR | ((e.mode ?? 0o755) & 0o7777);
        nlink = 2;
        break;
      case "symlink":
        mode = S_IFLNK | 0o777;
        data = enc.encode(e.target); // the link target is the entry's data, without NUL
        break;
      case "char":
      case "block":
        mode = (e.type === "char" ? S_IFCHR : S_IFBLK) | ((e.mode ?? 0o600) & 0o7777);
        common.rmaj = e.major;
        common.rmin = e.minor;
        break;
    }
    out.push(header({ ...common, mode, nlink, size: data?.length ?? 0 }));
    if (data && data.length) {
      out.push(data);
      const p = pad4(data.length);
      if (p) out.push(new Uint8Array(p));
    }
  }
  out.push(header({ ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 0, rmaj: 0, rmin: 0, name: TRAILER }));
  return out;
}

export function encodeCpio(entries: Iterable<CpioEntry>): Uint8Array {
  return Buffer.concat(cpioChunks(entries));
}

/**
 * Add directory entries for every missing parent, in order (the kernel's unpacker does not
 * create parents itself). Explicit entries win; implied dirs get mode 0755.
 */
export function withParents(entries: CpioEntry[]): CpioEntry[] {
  const seen = new Set<string>();
  const out: CpioEntry[] = [];
  const explicitDirs = new Map(entries.filter((e) => e.type === "dir").map((e) => [normalizeCpioPath(e.path), e]));
  const addDir = (p: string) => {
    if (seen.has(p)) return;
    const parent = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "";
    if (parent) addDir(parent);
    seen.add(p);
    out.push(explicitDirs.get(p) ?? { type: "dir", path: p });
  };
  for (const e of entries) {
    const p = normalizeCpioPath(e.path);
    if (e.type === "dir") {
      addDir(p);
      continue;
    }
    const parent = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "";
    if (parent) addDir(parent);
    out.push(e);
  }
  return out;
}

export interface ParsedCpioEntry {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

/** Parse one or more concatenated newc archives (zero padding between them is skipped, like the kernel). */
export function parseCpio(buf: Uint8Array): ParsedCpioEntry[] {
  const dec = new TextDecoder();
  const out: ParsedCpioEntry[] = [];
  let off = 0;
  const field = (i: number) => parseInt(dec.decode(buf.subarray(off + 6 + i * 8, off + 14 + i * 8)), 16);
  while (off < buf.length) {
    if (buf[off] === 0) {
      off++;
      continue;
    }
    const magic = dec.decode(buf.subarray(off, off + 6));
    if (magic !== "070701" && magic !== "070702") throw new Error(`cpio: bad magic at ${off}: ${JSON.stringify(magic)}`);
    const mode = field(1), uid = field(2), gid = field(3), nlink = field(4), mtime = field(5), size = field(6);
    const rdevMajor = field(9), rdevMinor = field(10), namesize = field(11);
    const name = dec.decode(buf.subarray(off + 110, off + 110 + namesize - 1));
    off += 110 + namesize;
    off += pad4(off);
    const data = buf.subarray(off, off + size);
    if (data.length !== size) throw new Error(`cpio: truncated data for ${name}`);
    off += size;
    off += pad4(off);
    if (name === TRAILER) continue;
    out.push({ name, mode, uid, gid, nlink, mtime, rdevMajor, rdevMinor, data });
  }
  return out;
}
