// Kernels by path, shares and the kernel matrix, end to end with real guests: Debian's generic
// kernel (linux-image-amd64, fetched once into the cache like the cloud one) unpacked in a temp
// dir, and a build-tree stand-in made of it (arch/x86/boot/bzImage, .config, and the modules as
// `make modules_install INSTALL_MOD_PATH=<tree>` lays them out).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { cacheRoot, ensureDebianKernel, resolveKernelSource } from "@provium/vmm";

const main = resolve(import.meta.dir, "../src/main.ts");
let dir: string;
let version: string;

async function provium(args: string[], cwd = dir) {
  const p = Bun.spawn(["bun", main, ...args], { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, FORCE_COLOR: "0" } });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr, out: stdout + stderr };
}

// Hard links: a copy of ~400 MB of modules in no time (the cache and the temp dir share a disk
// here; cp falls back to copying when they do not).
const copyTree = (from: string, to: string) => {
  mkdirSync(dirname(to), { recursive: true });
  const r = Bun.spawnSync(["sh", "-c", 'cp -al "$0" "$1" 2>/dev/null || cp -a "$0" "$1"', from, to]);
  if (!r.success) throw new Error(`copying ${from}: ${r.stderr}`);
};

beforeAll(async () => {
  const k = await ensureDebianKernel({ cacheDir: cacheRoot(), metaPackage: "linux-image-amd64", onProgress: (m) => console.log(m) });
  version = k.version;
  dir = mkdtempSync(join(tmpdir(), "provium-kernels-"));
  // The unpacked package, as `dpkg-deb -x linux-image-<ver>.deb pkg` leaves it.
  copyTree(dirname(dirname(k.kernel)), join(dir, "pkg"));
  // The build-tree stand-in.
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "arch/x86/boot"), { recursive: true });
  mkdirSync(join(tree, "include/config"), { recursive: true });
  copyFileSync(k.kernel, join(tree, "arch/x86/boot/bzImage"));
  copyFileSync(join(dirname(k.kernel), `config-${version}`), join(tree, ".config"));
  writeFileSync(join(tree, "include/config/kernel.release"), `${version}\n`);
  copyTree(k.moduleDir, join(tree, "lib/modules", version));
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src/hello.txt"), "hello from the host\n");
}, 900_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }), 120_000); // ~3 trees of 400 MB of modules

describe("kernels by path", () => {
  test("the three layouts resolve to their image and modules", () => {
    const pkg = resolveKernelSource(join(dir, "pkg"));
    expect(pkg.kind).toBe("package");
    expect(pkg.kernel).toBe(join(dir, "pkg/boot", `vmlinuz-${version}`));
    expect(pkg.moduleDir).toBe(join(dir, "pkg/lib/modules", version));
    const tree = resolveKernelSource(join(dir, "tree"));
    expect(tree.kind).toBe("build tree");
    expect(tree.kernel).toBe(join(dir, "tree/arch/x86/boot/bzImage"));
    expect(tree.moduleDir).toBe(join(dir, "tree/lib/modules", version));
    expect(tree.config?.get("CONFIG_9P_FS")).toBe("m");
    const bz = resolveKernelSource(join(dir, "tree/arch/x86/boot/bzImage"));
    expect(bz.kind).toBe("image");
    expect(bz.moduleDir).toBeUndefined();
  });

  test("--kernel at the generic kernel unpacked in a temp dir boots it and shares a host dir: read, write back, readonly is EROFS", async () => {
    writeFileSync(
      join(dir, "share.test.lua"),
      `test("uname and shares", function(t)
  local vm = provium:vm("g", "minimal")
  vm:boot({ shares = { ["/mnt/src"] = "src", ["/mnt/ro"] = { path = "src", readonly = true } } })
  t:assert_eq(vm:run("uname -r").stdout, "${version}\\n")
  t:assert_eq(vm:run("cat /mnt/src/hello.txt").stdout, "hello from the host\\n")
  t:assert_eq(vm:run("echo written by the guest > /mnt/src/back.txt").exit_code, 0)
  t:assert_eq(vm:run("cat /mnt/ro/hello.txt").stdout, "hello from the host\\n")
  local w = vm:run("echo no > /mnt/ro/nope.txt")
  t:assert_neq(w.exit_code, 0)
  t:assert_contains(w.stderr, "Read-only file system")
end)
`,
    );
    const r = await provium(["share.test.lua", "--kernel", join(dir, "pkg")]);
    expect(r.out).toContain("1 passed, 0 failed");
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "src/back.txt"), "utf8")).toBe("written by the guest\n");
    expect(() => readFileSync(join(dir, "src/nope.txt"))).toThrow();
  }, 600_000);

  test("a 2-entry matrix (the package, the build tree) runs each test once per entry and reports both", async () => {
    mkdirSync(join(dir, "m"), { recursive: true });
    writeFileSync(join(dir, "m/provium.toml"), `[matrix]\nkernel = { pkg = "../pkg", tree = "../tree" }\n`);
    writeFileSync(
      join(dir, "m/uname.test.lua"),
      `test("boots the entry's kernel", function(t)
  local vm = provium:vm("u", "minimal"):boot()
  t:assert_eq(vm:run("uname -r").stdout, "${version}\\n")
end)
`,
    );
    const r = await provium(["uname.test.lua", "--junit", "junit.xml", "--save-events", "events.jsonl"], join(dir, "m"));
    expect(r.stdout).toMatch(/✓ \[pkg\] uname\.test\.lua › boots the entry's kernel/);
    expect(r.stdout).toMatch(/✓ \[tree\] uname\.test\.lua › boots the entry's kernel/);
    expect(r.stdout).toContain("2 passed, 0 failed");
    expect(r.stdout).toContain("[pkg] 1 passed, 0 failed");
    expect(r.stdout).toContain("[tree] 1 passed, 0 failed");
    expect(r.code).toBe(0);
    const junit = readFileSync(join(dir, "m/junit.xml"), "utf8");
    expect(junit).toContain('<testsuite name="[pkg] uname.test.lua"');
    expect(junit).toContain('<testsuite name="[tree] uname.test.lua"');
    const events = readFileSync(join(dir, "m/events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(events.filter((e) => e.kind === "test_passed").map((e) => e.matrix).sort()).toEqual(["pkg", "tree"]);
    // --matrix picks entries; a wrong one is named.
    const listed = await provium(["list", "uname.test.lua"], join(dir, "m"));
    expect(listed.stdout).toBe("[pkg] uname.test.lua › boots the entry's kernel\n[tree] uname.test.lua › boots the entry's kernel\n");
    const bad = await provium(["uname.test.lua", "--matrix", "kernel=pkg,lts"], join(dir, "m"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--matrix: no kernel entry lts in");
    expect(bad.stderr).toContain("(known: pkg, tree)");
  }, 900_000);

  test("the cloud kernel with shares fails naming CONFIG_9P_FS and CONFIG_NET_9P_VIRTIO", async () => {
    writeFileSync(
      join(dir, "cloud.test.lua"),
      `test("shares on the cloud kernel", function(t)
  provium:vm("c", "minimal"):boot({ shares = { ["/mnt/src"] = "src" } })
end)
`,
    );
    const r = await provium(["cloud.test.lua"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("cloud.test.lua:2: boot option shares: shares need 9p over virtio in the guest kernel, and Debian's cloud kernel");
    expect(r.stdout).toContain("lacks CONFIG_9P_FS (9p) and CONFIG_NET_9P_VIRTIO (9pnet_virtio)");
  }, 600_000);

  test("bad kernels are named before anything boots", async () => {
    writeFileSync(join(dir, "noop.test.lua"), `test("noop", function() end)\n`);
    const missing = await provium(["noop.test.lua", "--kernel", join(dir, "nowhere")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--kernel: ${join(dir, "nowhere")} does not exist`);
    // A build tree before `make`.
    mkdirSync(join(dir, "unbuilt"));
    writeFileSync(join(dir, "unbuilt/Kconfig"), "");
    const unbuilt = await provium(["noop.test.lua", "--kernel", join(dir, "unbuilt")]);
    expect(unbuilt.stderr).toContain("is a kernel build tree without arch/x86/boot/bzImage: run make");
    // A build tree whose modules were never installed.
    mkdirSync(join(dir, "noinstall/arch/x86/boot"), { recursive: true });
    copyFileSync(join(dir, "tree/arch/x86/boot/bzImage"), join(dir, "noinstall/arch/x86/boot/bzImage"));
    copyFileSync(join(dir, "tree/.config"), join(dir, "noinstall/.config"));
    const noinstall = await provium(["noop.test.lua", "--kernel", join(dir, "noinstall")]);
    expect(noinstall.stderr).toContain("builds modules but has none installed: run `make modules_install INSTALL_MOD_PATH=");
    // A package whose agent port driver is gone: named, with its option.
    copyTree(join(dir, "pkg"), join(dir, "noconsole"));
    unlinkSync(join(dir, "noconsole/lib/modules", version, "kernel/drivers/char/virtio_console.ko"));
    const noconsole = await provium(["noop.test.lua", "--kernel", join(dir, "noconsole")]);
    expect(noconsole.code).toBe(2);
    expect(noconsole.stderr).toContain(`--kernel: ${join(dir, "noconsole")} has a driver the agent needs neither built in nor as a module: virtio_console (CONFIG_VIRTIO_CONSOLE=m, but no module file: run make modules_install)`);
  }, 300_000);
});
