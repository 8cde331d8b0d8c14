import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildAgentOverlay, encodeCpio, ensureImage, GUEST_INIT_SCRIPT, parseCpio, type EnsureImageOptions } from "../src/index";
import { HELLO_AGENT, removeTempDirs, tempDir } from "./helpers";

let dir: string;
let cache: string;
let kernel: string;
let agent: string;
let moduleDir: string;

beforeAll(() => {
  dir = tempDir("image");
  cache = path.join(dir, "cache");
  kernel = path.join(dir, "vmlinuz");
  fs.writeFileSync(kernel, "fake kernel v1");
  agent = path.join(dir, "agent");
  fs.copyFileSync(HELLO_AGENT, agent);
  // A fake lib/modules/<ver>: one module xz-compressed, virtio_pci_legacy_dev "built in" (absent),
  // virtio_pci needing a module nobody asks for by name (its .modinfo `depends=`), 9p's pair.
  moduleDir = path.join(dir, "modules");
  const order: string[] = [];
  const mods = [["9p", "fs", "9pnet"], ["9pnet", "net", ""], ["9pnet_virtio", "net", "virtio,9pnet"], ["virtio_ring", "virtio", ""], ["virtio", "virtio", ""], ["virtio_pci_modern_dev", "virtio", ""], ["virtio_pci", "virtio", "virtio_ring,pci-helper,virtio_pci_modern_dev"], ["pci-helper", "virtio", ""], ["virtio_console", "char", null]];
  for (const [name, sub, deps] of mods) {
    const rel = `kernel/drivers/${sub}/${name}.ko`;
    fs.mkdirSync(path.join(moduleDir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(moduleDir, rel), `module ${name}${deps === null ? "" : `\0depends=${deps}\0`}`);
    order.push(rel);
  }
  Bun.spawnSync(["xz", path.join(moduleDir, "kernel/drivers/char/virtio_console.ko")]);
  fs.writeFileSync(path.join(moduleDir, "modules.order"), order.join("\n") + "\n");
});
afterAll(removeTempDirs);

const names = (file: string) => parseCpio(fs.readFileSync(file)).map((e) => e.name);

describe("guest image", () => {
  test("minimal: the overlay alone is the initrd", async () => {
    const img = await ensureImage({ cacheDir: cache, kernel, injectAgent: true, agentBinary: agent, moduleDir });
    expect(img.kernel).toBe(kernel);
    const entries = parseCpio(fs.readFileSync(img.initrd!));
    const byName = new Map(entries.map((e) => [e.name, e]));
    for (const n of ["init", "provium/bin/busybox", "provium/agent", "dev/console"]) expect(byName.has(n)).toBe(true);
    expect(new TextDecoder().decode(byName.get("init")!.data)).toBe(GUEST_INIT_SCRIPT);
    expect(byName.get("init")!.mode & 0o777).toBe(0o755);
    // Each group's modules, dependencies first, then its load order for guest-init.sh.
    const text = (n: string) => new TextDecoder().decode(byName.get(n)!.data);
    expect(entries.filter((e) => e.name.startsWith("provium/modules/")).map((e) => e.name)).toEqual([
      "provium/modules/virtio_ring.ko",
      "provium/modules/virtio.ko",
      "provium/modules/virtio_pci_modern_dev.ko",
      "provium/modules/pci_helper.ko",
      "provium/modules/virtio_pci.ko",
      "provium/modules/virtio_console.ko",
      "provium/modules/boot.order",
      "provium/modules/9pnet.ko",
      "provium/modules/9p.ko",
      "provium/modules/9pnet_virtio.ko",
      "provium/modules/share.order",
    ]);
    expect(text("provium/modules/boot.order")).toBe("virtio_ring\nvirtio\nvirtio_pci_modern_dev\npci_helper\nvirtio_pci\nvirtio_console\n");
    expect(text("provium/modules/share.order")).toBe("9pnet\n9p\n9pnet_virtio\n"); // virtio: loaded at boot already
    expect(new TextDecoder().decode(byName.get("provium/modules/virtio_console.ko")!.data)).toBe("module virtio_console"); // decompressed
    expect(byName.has("provium/lib/ld.so")).toBe(false); // a script agent needs no libraries
  });

  test("same inputs reuse the cached image; any changed input makes a new one", async () => {
    const base = { cacheDir: cache, kernel, injectAgent: true, agentBinary: agent, moduleDir };
    const a = await ensureImage(base);
    const ino = fs.statSync(a.initrd!).ino;
    const again = await ensureImage(base);
    expect(again.key).toBe(a.key);
    expect(fs.statSync(again.initrd!).ino).toBe(ino); // not rebuilt

    const keys = new Set([a.key]);
    const change = async (label: string, mutate: () => void, opts: EnsureImageOptions = base) => {
      mutate();
      const k = (await ensureImage(opts)).key;
      expect(keys.has(k), label).toBe(false);
      keys.add(k);
    };
    await change("agent", () => fs.appendFileSync(agent, "# changed\n"));
    await change("kernel", () => fs.writeFileSync(kernel, "fake kernel v2"));
    await change("module", () => fs.writeFileSync(path.join(moduleDir, "kernel/drivers/virtio/virtio.ko"), "module virtio v2"));
    await change("init script", () => {}, { ...base, initScript: "#!/provium/bin/busybox sh\necho other\n" });
    await change("no modules", () => {}, { ...base, moduleDir: undefined });
    expect((await ensureImage(base)).key).toBe([...keys][3]!); // back to the unchanged-module inputs
  });

  test("a user initrd is kept intact and the overlay appended after it", async () => {
    const userInitrd = path.join(dir, "user.cpio");
    const user = encodeCpio([{ type: "file", path: "init", data: new TextEncoder().encode("user init") }, { type: "file", path: "etc/os-release", data: new TextEncoder().encode("ID=test\n") }]);
    fs.writeFileSync(userInitrd, user);
    const img = await ensureImage({ cacheDir: cache, kernel, initrd: userInitrd, injectAgent: true, agentBinary: agent, moduleDir });
    const bytes = fs.readFileSync(img.initrd!);
    expect(Buffer.compare(bytes.subarray(0, user.length), Buffer.from(user))).toBe(0);
    const overlayStart = user.length + ((512 - (user.length % 512)) % 512);
    expect(bytes.subarray(user.length, overlayStart).every((b) => b === 0)).toBe(true);
    const all = names(img.initrd!);
    expect(all.slice(0, 2)).toEqual(["init", "etc/os-release"]);
    expect(all.lastIndexOf("init")).toBeGreaterThan(1); // ours comes later, so it wins

    const plain = await ensureImage({ cacheDir: cache, kernel, initrd: userInitrd, injectAgent: false });
    expect(plain.initrd).toBe(userInitrd);
  });

  test("a dynamic agent gets its loader and libraries in /provium/lib", () => {
    const bin = Bun.which("true")!;
    const overlay = parseCpio(buildAgentOverlay({ agentBinary: bin }));
    const libs = overlay.filter((e) => e.name.startsWith("provium/lib/")).map((e) => e.name);
    expect(libs).toContain("provium/lib/ld.so");
    expect(libs).toContain("provium/lib/libc.so.6");
    expect(overlay.some((e) => e.name.startsWith("lib"))).toBe(false); // nothing outside /provium
  });
});
