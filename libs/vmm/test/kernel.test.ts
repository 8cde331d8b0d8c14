import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { ensureDebianKernel } from "../src/index";
import { removeTempDirs, sharedKernel, tempDir } from "./helpers";

afterAll(removeTempDirs);

describe("Debian kernel", () => {
  test("is fetched once, then served from the cache", async () => {
    const k = await sharedKernel(); // downloads on the very first run (shared cache)
    expect(fs.existsSync(k.kernel)).toBe(true);
    expect(fs.existsSync(`${k.moduleDir}/kernel/drivers/char/virtio_console.ko`)).toBe(true);
    expect(k.version).toMatch(/cloud-amd64$/);
    const progress: string[] = [];
    const again = await ensureDebianKernel({ cacheDir: k.kernel.split("/kernels/")[0]!, onProgress: (m) => progress.push(m) });
    expect(progress).toEqual([]); // nothing downloaded or extracted again
    expect(again).toEqual(k);
  }, 300_000);

  test("without apt the error says how to proceed", async () => {
    const saved = process.env.PATH;
    process.env.PATH = tempDir("nopath");
    try {
      await expect(ensureDebianKernel({ cacheDir: tempDir("kernel") })).rejects.toThrow(/install them \(Debian\/Ubuntu: sudo apt-get install -y apt dpkg\) or set `kernel` in a profile/);
    } finally {
      process.env.PATH = saved;
    }
  });

  test("an unknown package points at apt-get update", async () => {
    await expect(ensureDebianKernel({ cacheDir: tempDir("kernel"), metaPackage: "linux-image-provium-does-not-exist" })).rejects.toThrow(/apt-get update/);
  });
});
