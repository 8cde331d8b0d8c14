// Snapshots through QEMU migration. QEMU 7.2 has no `file:` migration, so the stream goes
// through `exec:`; QEMU can report completion while that command is still flushing, so the
// command writes a temp name and renames it last: the final name exists only once whole.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { onProcessExit } from "./exit-cleanup";
import { requireTool, ZSTD } from "../host-tools";
import type { QemuVm } from "./qemu";

// The default cap (128 MiB/s) made a 92 MiB save take 0.71 s here; raised, 95 ms.
const MAX_BANDWIDTH = 64 * 1024 * 1024 * 1024;

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface SaveOptions {
  /** zstd-compress the stream (for snapshots kept on disk for long, e.g. the fixture cache) */
  compress?: boolean;
  timeoutMs?: number;
  /** how long a running guest may take to go idle before it is paused (default 200 ms; see settle) */
  settleMs?: number;
  /** memory mapped shared from a file (LaunchOptions.memoryFile) stays out of the stream: the
   *  file holds it (QEMU's x-ignore-shared); the stream is the devices' state alone */
  ignoreShared?: boolean;
}

// The writer's own error is lost with its pipe; the file system says whether it was full.
function writeFailed(file: string) {
  const dir = path.dirname(file);
  let free = "";
  try {
    const st = fs.statfsSync(dir);
    const mib = (st.bavail * st.bsize) / 1048576;
    if (mib < 64) free = `: No space left on device (ENOSPC; ${mib.toFixed(1)} MiB free in ${dir})`;
  } catch {}
  return new Error(`snapshot failed: could not write ${file}${free || " (disk full?)"}`);
}

/** Pauses the VM and writes its migration stream to `file`. The VM stays paused. */
export async function saveMemory(vm: QemuVm, file: string, opts: SaveOptions = {}): Promise<number> {
  if (opts.compress) requireTool(ZSTD); // else the shell's "not found" is lost with its pipe
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.partial`);
  fs.rmSync(file, { force: true });
  const status = (await vm.qmp.execute("query-status")).status;
  // After a save the VM sits in "postmigrate", from which QEMU refuses another migration.
  if (status === "postmigrate") await vm.qmp.execute("cont");
  else if (status === "running") await settle(vm, opts.settleMs ?? 200);
  await vm.qmp.execute("stop");
  await vm.qmp.execute("migrate-set-parameters", { "max-bandwidth": MAX_BANDWIDTH });
  await vm.qmp.execute("migrate-set-capabilities", { capabilities: [{ capability: "x-ignore-shared", state: !!opts.ignoreShared }] });
  const writer = opts.compress ? `zstd -q -1 -T0 > ${sh(tmp)}` : `cat > ${sh(tmp)}`;
  // `set -o pipefail` is not needed: a failing writer leaves no final file, which we detect.
  // A writer that fails (disk full) leaves `<file>.failed` instead, so we need not time out.
  const failed = `${file}.failed`;
  fs.rmSync(failed, { force: true });
  await vm.qmp.execute("migrate", { uri: `exec:(${writer} && mv ${sh(tmp)} ${sh(file)}) || { rm -f ${sh(tmp)}; touch ${sh(failed)}; }` });
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const st = await vm.qmp.execute("query-migrate");
    if (st.status === "completed") break;
    if (st.status === "failed" || st.status === "cancelled") {
      // A writer that died (e.g. ENOSPC) breaks QEMU's pipe: say so rather than "broken pipe".
      for (let i = 0; i < 100 && !fs.existsSync(failed); i++) await Bun.sleep(10);
      fs.rmSync(tmp, { force: true });
      if (fs.existsSync(failed)) {
        fs.rmSync(failed, { force: true });
        throw writeFailed(file);
      }
      throw new Error(`snapshot failed: migration ${st.status}${st["error-desc"] ? `: ${st["error-desc"]}` : ""}`);
    }
    if (Date.now() > deadline) throw new Error("snapshot timed out while saving memory");
    await Bun.sleep(5);
  }
  while (!fs.existsSync(file)) {
    if (fs.existsSync(failed)) {
      fs.rmSync(failed, { force: true });
      throw writeFailed(file);
    }
    if (Date.now() > deadline) {
      fs.rmSync(tmp, { force: true });
      throw new Error(`snapshot failed: the writer did not finish ${file} (disk full?)`);
    }
    await Bun.sleep(2);
  }
  return fs.statSync(file).size;
}

const SETTLE_WINDOW_MS = 10;
const SETTLE_QUIET_WINDOWS = 2;

/**
 * Waits, at most `maxMs`, until the guest's vCPUs have been idle for two 10 ms windows in a row
 * (their threads ran < 10% of each, by the host's schedstat). What a guest is in the middle of
 * when it is paused (its agent's garbage collection or JIT compile, the cleanup after a command)
 * is finished after every restore instead, in a new QEMU where TCG translates every path anew:
 * saved right after a command, the agent's first answer took ~10,000 more translation blocks
 * (~70 ms) than saved 100 ms later. Without schedstat (not Linux) it does not wait.
 */
async function settle(vm: QemuVm, maxMs: number) {
  if (maxMs <= 0) return;
  let files: string[];
  try {
    const cpus: { "thread-id": number }[] = await vm.qmp.execute("query-cpus-fast");
    files = cpus.map((c) => `/proc/${vm.pid}/task/${c["thread-id"]}/schedstat`);
  } catch {
    return;
  }
  const busyNs = () => files.reduce((n, f) => n + Number(fs.readFileSync(f, "utf8").split(" ")[0]), 0);
  const end = performance.now() + maxMs;
  try {
    let before = busyNs();
    let at = performance.now();
    for (let quiet = 0; quiet < SETTLE_QUIET_WINDOWS && at < end; ) {
      await Bun.sleep(SETTLE_WINDOW_MS);
      const now = busyNs();
      const t = performance.now();
      quiet = (now - before) / 1e6 < 0.1 * (t - at) ? quiet + 1 : 0;
      before = now;
      at = t;
    }
  } catch {
    /* no schedstat, or QEMU went away (the save reports that) */
  }
}

/** QEMU arguments that make a new VM wait for a migration stream instead of booting. */
export const INCOMING_ARGS = ["-incoming", "defer", "-S"];

/** A saved stream opened for a VM about to be launched with INCOMING_ARGS (see openIncoming). */
export interface IncomingStream {
  file: string;
  compressed: boolean;
  /** for QemuVm.launch's `fds`, first: QEMU inherits the open file as fd 3 */
  fds: number[];
  /** resolves once the stream behind fd 3 is whole (a compressed one is still being unpacked) */
  ready: Promise<void>;
  /** closes our copy; call once QEMU is launched (or failed to) */
  close(): void;
}

/**
 * Opens `file` for a restore. QEMU gets the stream as an open file (`fd:3`), which it reads
 * itself: 2-2.5x faster than through a pipe (110 MB: 147 -> 63 ms here), where QEMU waits on
 * its main loop for every 64 KiB the pipe holds. A compressed stream is unpacked by zstd into a
 * file of its own while QEMU starts (unlinked at once: nothing is left behind, however the run
 * ends), and is loaded once zstd is done: a fixture resume to ready ~1.0 -> ~0.6 s here (a
 * plain stream: ~0.45 s). Pass the result to QemuVm.launch (`fds`) and then to loadMemory.
 */
export function openIncoming(file: string, opts: { compressed?: boolean } = {}): IncomingStream {
  if (!fs.existsSync(file)) throw new Error(`snapshot file is missing: ${file}`);
  const compressed = !!opts.compressed;
  let ready = Promise.resolve();
  let fd: number | null;
  if (!compressed) fd = fs.openSync(file, "r");
  else {
    // Two open files: zstd writes through one, QEMU reads from the start through the other.
    const tmp = path.join(os.tmpdir(), `provium-incoming-p${process.pid}-${Math.random().toString(36).slice(2)}`);
    const out = fs.openSync(tmp, "wx", 0o600);
    try {
      fd = fs.openSync(tmp, "r");
    } finally {
      fs.unlinkSync(tmp);
    }
    let unpack;
    try {
      unpack = Bun.spawn([requireTool(ZSTD), "-dcq", file], { stdin: "ignore", stdout: out, stderr: "pipe" });
    } catch (e) {
      fs.closeSync(fd);
      throw new Error(`restore failed: cannot start zstd to unpack ${file}: ${(e as Error).message}`);
    } finally {
      fs.closeSync(out);
    }
    const stopOnExit = onProcessExit(() => unpack.kill("SIGKILL"));
    ready = Promise.all([unpack.exited, new Response(unpack.stderr).text()]).then(([code, err]) => {
      stopOnExit();
      if (code !== 0) throw new Error(`restore failed: the snapshot does not load (truncated or corrupt?): zstd: ${err.trim() || `exit ${code}`}`);
    });
    ready.catch(() => {}); // loadMemory reports it; a launch that failed first never asks
  }
  return {
    file,
    compressed,
    fds: [fd],
    ready,
    close() {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}

/**
 * Feeds a saved stream into a VM launched with INCOMING_ARGS; it stays paused after. `from` is
 * the stream opened with openIncoming whose fds the VM inherited; a bare file name goes through
 * `exec:` (cat, or zstd with `compressed`).
 */
export async function loadMemory(vm: QemuVm, from: string | IncomingStream, opts: { compressed?: boolean; timeoutMs?: number; ignoreShared?: boolean } = {}) {
  const file = typeof from === "string" ? from : from.file;
  const compressed = typeof from === "string" ? !!opts.compressed : from.compressed;
  const inherited = typeof from !== "string";
  if (!inherited && !fs.existsSync(file)) throw new Error(`snapshot file is missing: ${file}`);
  const reader = compressed ? `${sh(requireTool(ZSTD))} -dcq ${sh(file)}` : `cat ${sh(file)}`;
  // The destination's query-migrate says nothing in 7.2: follow its MIGRATION events.
  // ignoreShared: a stream saved with it (its memory is in a file the VM maps, see SaveOptions).
  await vm.qmp.execute("migrate-set-capabilities", {
    capabilities: [
      { capability: "events", state: true },
      { capability: "x-ignore-shared", state: !!opts.ignoreShared },
    ],
  });
  let status = "";
  let wake = () => {};
  const off = vm.qmp.on("MIGRATION", (e: any) => {
    status = e.data?.status ?? status;
    wake();
  });
  // QEMU 7.2 can wait forever on a piped stream that ended early; the reader's exit status
  // (zstd checks its frames) tells us at once that the snapshot is truncated or corrupt. From
  // a file, QEMU itself fails at its end ("load of migration failed") and exits.
  const rcFile = path.join(vm.runDir, "incoming.rc");
  const doesNotLoad = () =>
    new Error(`restore failed: the snapshot does not load (truncated or corrupt?)${vm.stderrTail().trim() ? `: ${vm.stderrTail().trim()}` : ""}`);
  try {
    if (inherited) await from.ready;
    await vm.qmp.execute("migrate-incoming", { uri: inherited ? "fd:3" : `exec:${reader}; echo $? > ${sh(rcFile)}` });
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    for (;;) {
      if (status === "completed") return;
      const rc = !inherited && fs.existsSync(rcFile) ? fs.readFileSync(rcFile, "utf8").trim() : "";
      if (status === "failed" || (rc !== "" && rc !== "0")) throw doesNotLoad();
      // An event wakes us at once; the reader's status file is looked at every 5 ms.
      let timer: Timer | undefined;
      const next = new Promise<null>((r) => {
        wake = () => r(null);
        timer = setTimeout(wake, inherited ? 1000 : 5);
      });
      const exit = await Promise.race([vm.exited, next]).finally(() => clearTimeout(timer));
      if (exit) {
        await vm.stderrClosed(200);
        if (status === "failed" || /load of migration failed/.test(vm.stderrTail())) throw doesNotLoad();
        throw new Error(`restore failed: QEMU exited while loading the snapshot\n${vm.describe()}`);
      }
      if (Date.now() > deadline) throw new Error("restore timed out while loading the snapshot");
    }
  } finally {
    off();
  }
}
