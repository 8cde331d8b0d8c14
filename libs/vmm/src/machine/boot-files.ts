// Host files in the guest before the agent starts: a newc archive appended to a per-VM copy of
// the initrd (Linux unpacks concatenated archives in order). The files sit under
// /provium-files and guest-init.sh copies each into place (into the root disk for disk
// profiles), so init's own defaults stay overridable and existing directories keep their modes.
// fw_cfg was measured too: its reads are quadratic (1 MiB = 8.9 s under TCG), so no.
import * as fs from "node:fs";
import { cpioChunks, normalizeCpioPath, withParents, type CpioEntry } from "../image/cpio";

export interface BootFile {
  /** absolute path in the guest */
  path: string;
  /** the content: a host file to copy, or the bytes themselves */
  source?: string;
  data?: Uint8Array;
  /** permission bits (default: the host file's, else 0o644) */
  mode?: number;
}

/** Where the archive puts user files and the entropy seed (guest-init.sh knows these names). */
export const FILES_PREFIX = "provium-files";
export const RNG_SEED_PATH = "provium-rng-seed";

/** The archive's entries: each file under FILES_PREFIX, the seed at RNG_SEED_PATH. */
export function bootFileEntries(files: BootFile[], rngSeed?: Uint8Array): CpioEntry[] {
  const entries: CpioEntry[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    if (typeof f.path !== "string" || !f.path.startsWith("/")) throw new Error(`boot file path must be absolute: ${JSON.stringify(f.path)}`);
    if (/[\n\0]/.test(f.path)) throw new Error(`boot file path has a newline or NUL: ${JSON.stringify(f.path)}`);
    const rel = normalizeCpioPath(f.path); // refuses ".." and "/"
    if (seen.has(rel)) throw new Error(`boot file ${f.path} given twice`);
    seen.add(rel);
    let data = f.data;
    let mode = f.mode;
    if (!data) {
      if (!f.source) throw new Error(`boot file ${f.path}: give a host file (source) or its bytes (data)`);
      let st: fs.Stats;
      try {
        st = fs.statSync(f.source);
      } catch {
        throw new Error(`boot file ${f.path}: host file not found: ${f.source}`);
      }
      if (!st.isFile()) throw new Error(`boot file ${f.path}: ${f.source} is not a regular file`);
      data = fs.readFileSync(f.source);
      mode ??= st.mode & 0o7777;
    }
    entries.push({ type: "file", path: `${FILES_PREFIX}/${rel}`, data, mode: mode ?? 0o644, mtime: Math.floor(Date.now() / 1000) });
  }
  if (rngSeed?.length) entries.push({ type: "file", path: RNG_SEED_PATH, data: rngSeed, mode: 0o600 });
  return withParents(entries);
}

/**
 * Writes `out` = the base initrd (if any), zero padding to a 512-byte boundary (the kernel
 * skips zeros between archives) and the archive of `files`. Returns `out`.
 */
export function writeInitrdWithFiles(base: string | null, files: BootFile[], rngSeed: Uint8Array | undefined, out: string): string {
  const chunks = cpioChunks(bootFileEntries(files, rngSeed));
  if (base) fs.copyFileSync(base, out);
  else fs.writeFileSync(out, new Uint8Array(0));
  const size = fs.statSync(out).size;
  const fd = fs.openSync(out, "a");
  try {
    const pad = (512 - (size % 512)) % 512;
    if (pad) fs.writeSync(fd, new Uint8Array(pad));
    for (const c of chunks) fs.writeSync(fd, c);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}
