// QemuVm drives: a copy-on-write overlay per VM in its run dir (the base is never written, the
// overlay goes with the VM) and plain read-only disks, as the debian profile uses them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { DISK_MODULES, ensureImage, liveVms, QemuVm, type GuestImage } from "../src/index";
import { FIXTURES, readFirstLine, removeTempDirs, sharedKernel, tempDir } from "./helpers";

let dir: string;
let image: GuestImage;

beforeAll(async () => {
  dir = tempDir("drives");
  const k = await sharedKernel();
  image = await ensureImage({ cacheDir: dir, kernel: k.kernel, moduleDir: k.moduleDir, injectAgent: true, agentBinary: path.join(FIXTURES, "disk-agent.sh"), extraModules: DISK_MODULES });
}, 300_000);
afterAll(async () => {
  for (const vm of liveVms()) await vm.shutdown({ graceMs: 0 });
  removeTempDirs();
});

const sha = (f: string) => new Bun.CryptoHasher("sha256").update(fs.readFileSync(f)).digest("hex");

describe("QemuVm drives", () => {
  test("an overlay takes the guest's writes in the run dir, the base stays untouched, and the overlay goes with the VM", async () => {
    const base = path.join(dir, "base.raw");
    fs.writeFileSync(base, new Uint8Array(4 << 20));
    fs.chmodSync(base, 0o444);
    const ro = path.join(dir, "ro.raw");
    fs.writeFileSync(ro, new Uint8Array(1 << 20));
    const before = { hash: sha(base), mtime: fs.statSync(base).mtimeMs };
    const vm = await QemuVm.launch({
      name: "disks",
      kernel: image.kernel,
      initrd: image.initrd,
      memoryMiB: 256,
      cpus: 1,
      accel: "tcg",
      drives: [{ file: base, overlay: true }, { file: ro, readOnly: true }],
    });
    try {
      expect(vm.drives.map((d) => ({ ...d, file: path.relative(vm.runDir, d.file) }))).toEqual([
        { id: "drive0", file: "drive0.qcow2", format: "qcow2", base, readOnly: false },
        { id: "drive1", file: path.relative(vm.runDir, ro), format: "raw", base: null, readOnly: true },
      ]);
      const { line, sock } = await readFirstLine(vm.agentSocket, undefined, 60_000);
      expect(line).toBe(`vda=${(4 << 20) / 512} vdb=${(1 << 20) / 512} vdb_ro=1 wrote=0`);
      // The write landed in the overlay (read it as the guest sees the disk) and not in the base.
      const seen = path.join(dir, "seen.raw");
      const conv = Bun.spawnSync(["qemu-img", "convert", "-U", "-O", "raw", vm.drives[0]!.file, seen], { stderr: "pipe" });
      expect(conv.stderr.toString()).toBe("");
      expect(fs.readFileSync(seen).subarray(0, 19).toString()).toBe("provium-disk-marker");
      expect({ hash: sha(base), mtime: fs.statSync(base).mtimeMs }).toEqual(before);
      sock.destroy();
    } finally {
      await vm.shutdown();
    }
    expect(fs.existsSync(vm.drives[0]!.file)).toBe(false);
    expect(fs.existsSync(vm.runDir)).toBe(false);
    expect(fs.existsSync(base)).toBe(true);
  }, 90_000);

  test("a missing drive image fails the launch before QEMU starts", async () => {
    const err = await QemuVm.launch({ name: "x", kernel: image.kernel, initrd: image.initrd, memoryMiB: 128, cpus: 1, accel: "tcg", drives: [{ file: path.join(dir, "nope.img") }] }).catch((e) => e);
    expect(err.message).toContain(`drive image not found: ${path.join(dir, "nope.img")}`);
  });
});
