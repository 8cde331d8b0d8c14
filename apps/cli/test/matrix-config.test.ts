// provium.toml's [matrix] and a profile's `shares`, parsed (no guests: kernels.test.ts boots them).
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config";
import { matrixEntries, withKernel } from "../src/matrix";

const dir = mkdtempSync(join(tmpdir(), "provium-matrix-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, "src"));

function load(toml: string) {
  const f = join(dir, "provium.toml");
  writeFileSync(f, toml);
  return loadConfig(f);
}
const usage = (m: string) => new Error(m);

test("[matrix] kernel entries: paths relative to the file, all by default, --matrix picks", () => {
  const cfg = load(`[matrix]\nkernel = { lts = "k/lts", next = "/abs/next" }\n`);
  expect(cfg.matrix).toEqual({ kernel: { lts: join(dir, "k/lts"), next: "/abs/next" } });
  expect(matrixEntries(cfg, undefined, undefined, usage)).toEqual([{ name: "lts", kernel: join(dir, "k/lts") }, { name: "next", kernel: "/abs/next" }]);
  expect(matrixEntries(cfg, "kernel=next", undefined, usage)).toEqual([{ name: "next", kernel: "/abs/next" }]);
  expect(matrixEntries(cfg, undefined, "/some/bzImage", usage)).toBeNull();
  expect(() => matrixEntries(cfg, "kernel=next", "/k", usage)).toThrow("--kernel and --matrix together");
  expect(() => matrixEntries(cfg, "arch=x86", undefined, usage)).toThrow('--matrix takes kernel=ENTRY[,ENTRY...], got "arch=x86"');
  expect(() => matrixEntries(load(""), "kernel=lts", undefined, usage)).toThrow("has no [matrix] kernel = { ... } table");
});

test("[matrix] mistakes are named", () => {
  expect(() => load(`[matrix]\narch = {}\n`)).toThrow("unknown key matrix.arch (known: kernel)");
  expect(() => load(`[matrix]\nkernel = "x"\n`)).toThrow('matrix.kernel must be a table of entries like { lts = "PATH", next = "PATH" }');
  expect(() => load(`[matrix]\nkernel = { lts = 3 }\n`)).toThrow("matrix.kernel.lts must be a kernel path (a string)");
});

test("withKernel: every profile without a kernel (or build) of its own gets it", () => {
  const cfg = withKernel(load(`[profiles.own]\nkernel = "mine"\n[profiles.plain]\ncmdline = "x"\n`), "/k");
  expect(cfg.profiles.own!.kernel).toBe(join(dir, "mine"));
  expect(cfg.profiles.plain!.kernel).toBe("/k");
  expect(cfg.profiles.minimal!.kernel).toBe("/k");
  expect(cfg.profiles.debian!.kernel).toBe("/k");
});

test("a profile's shares: host paths relative to provium.toml, readonly, mistakes named", () => {
  const cfg = load(`[profiles.dev]\nshares = { "/mnt/src" = "src", "/mnt/ro" = { path = "src", readonly = true } }\n`);
  expect(cfg.profiles.dev!.shares).toEqual([
    { mount: "/mnt/src", path: join(dir, "src"), readOnly: false },
    { mount: "/mnt/ro", path: join(dir, "src"), readOnly: true },
  ]);
  expect(() => load(`[profiles.dev]\nshares = { "/mnt/x" = "nowhere" }\n`)).toThrow(`profiles.dev.shares["/mnt/x"]: host directory not found: ${join(dir, "nowhere")}`);
  expect(() => load(`[profiles.dev]\nshares = { "rel" = "src" }\n`)).toThrow('the guest mount point "rel" must be an absolute path');
  expect(() => load(`[profiles.dev]\nshares = { "/m" = { path = "src", ro = true } }\n`)).toThrow("unknown key ro (known: path, readonly)");
});
