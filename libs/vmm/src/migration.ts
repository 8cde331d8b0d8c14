// Snapshots through QEMU migration. QEMU 7.2 has no `file:` migration, so the stream goes
// through `exec:`; QEMU can report completion while that command is still flushing, so the
// command writes a temp name and renames it last: the final name exists only once whole.
import * as fs from "node:fs";
import * as path from "node:path";
import type { QemuVm } from "./qemu";

// The default cap (128 MiB/s) made a 92 MiB save take 0.71 s here; raised, 95 ms.
const MAX_BANDWIDTH = 64 * 1024 * 1024 * 1024;

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface SaveOptions {
  /** zstd-compress the stream (for snapshots kept on disk for long, e.g. the fixture cache) */
  compress?: boolean;
  timeoutMs?: number;
}

/** Pauses the VM and writes its migration stream to `file`. The VM stays paused. */
export async function saveMemory(vm: QemuVm, file: string, opts: SaveOptions = {}): Promise<number> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.partial`);
  fs.rmSync(file, { force: true });
  // After a save the VM sits in "postmigrate", from which QEMU refuses another migration.
  if ((await vm.qmp.execute("query-status")).status === "postmigrate") await vm.qmp.execute("cont");
  await vm.qmp.execute("stop");
  await vm.qmp.execute("migrate-set-parameters", { "max-bandwidth": MAX_BANDWIDTH });
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
        throw new Error(`snapshot failed: could not write ${file} (disk full?)`);
      }
      throw new Error(`snapshot failed: migration ${st.status}${st["error-desc"] ? `: ${st["error-desc"]}` : ""}`);
    }
    if (Date.now() > deadline) throw new Error("snapshot timed out while saving memory");
    await Bun.sleep(5);
  }
  while (!fs.existsSync(file)) {
    if (fs.existsSync(failed)) {
      fs.rmSync(failed, { force: true });
      throw new Error(`snapshot failed: could not write ${file} (disk full?)`);
    }
    if (Date.now() > deadline) {
      fs.rmSync(tmp, { force: true });
      throw new Error(`snapshot failed: the writer did not finish ${file} (disk full?)`);
    }
    await Bun.sleep(2);
  }
  return fs.statSync(file).size;
}

/** QEMU arguments that make a new VM wait for a migration stream instead of booting. */
export const INCOMING_ARGS = ["-incoming", "defer", "-S"];

/** Feeds a saved stream into a VM launched with INCOMING_ARGS; it stays paused after. */
export async function loadMemory(vm: QemuVm, file: string, opts: { compressed?: boolean; timeoutMs?: number } = {}) {
  if (!fs.existsSync(file)) throw new Error(`snapshot file is missing: ${file}`);
  const reader = opts.compressed ? `zstd -dcq ${sh(file)}` : `cat ${sh(file)}`;
  // The destination's query-migrate says nothing in 7.2: follow its MIGRATION events.
  await vm.qmp.execute("migrate-set-capabilities", { capabilities: [{ capability: "events", state: true }] });
  let status = "";
  const off = vm.qmp.on("MIGRATION", (e: any) => (status = e.data?.status ?? status));
  // QEMU 7.2 can wait forever on a stream that ended early; the reader's exit status (zstd
  // checks its frames) tells us at once that the snapshot is truncated or corrupt.
  const rcFile = path.join(vm.runDir, "incoming.rc");
  try {
    await vm.qmp.execute("migrate-incoming", { uri: `exec:${reader}; echo $? > ${sh(rcFile)}` });
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    for (;;) {
      if (status === "completed") return;
      const rc = fs.existsSync(rcFile) ? fs.readFileSync(rcFile, "utf8").trim() : "";
      if (status === "failed" || (rc !== "" && rc !== "0"))
        throw new Error(`restore failed: the snapshot does not load (truncated or corrupt?)${vm.stderrTail().trim() ? `: ${vm.stderrTail().trim()}` : ""}`);
      const exit = await Promise.race([vm.exited, Bun.sleep(5).then(() => null)]);
      if (exit) throw new Error(`restore failed: QEMU exited while loading the snapshot\n${vm.describe()}`);
      if (Date.now() > deadline) throw new Error("restore timed out while loading the snapshot");
    }
  } finally {
    off();
  }
}
