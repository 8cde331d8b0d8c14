import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureAgentBinary } from "../src/index";
import { FIXTURES, removeTempDirs, tempDir } from "./helpers";

afterAll(removeTempDirs);
// A build takes ~1 s on an idle machine, many times that when other suites boot guests.
const BUILDS = 180_000;

describe("agent binary", () => {
  test("compiles once, reuses the cache, rebuilds when a source changes", async () => {
    const dir = tempDir("agent");
    const pkg = path.join(dir, "agent");
    fs.cpSync(path.join(FIXTURES, "bun-agent"), pkg, { recursive: true });
    const cacheDir = path.join(dir, "cache");
    const entry = path.join(pkg, "src/main.ts");
    const progress: string[] = [];

    const first = await ensureAgentBinary({ cacheDir, entry, onProgress: (m) => progress.push(m) });
    expect(progress).toEqual(["building guest agent (bun build --compile)"]);
    expect(fs.statSync(first).mode & 0o111).not.toBe(0);
    expect(fs.readFileSync(first).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));

    expect(await ensureAgentBinary({ cacheDir, entry, onProgress: (m) => progress.push(m) })).toBe(first);
    expect(progress.length).toBe(1); // served from the cache: no second build

    fs.writeFileSync(path.join(pkg, "src/extra.ts"), "export const x = 1;\n"); // any source file counts
    const second = await ensureAgentBinary({ cacheDir, entry });
    expect(second).not.toBe(first);
    expect(fs.readdirSync(path.join(cacheDir, "agents")).filter((f) => f.includes(".tmp-"))).toEqual([]);
  }, BUILDS);

  test("the same sources in another place hit the same agent; an external dependency's version is part of the key", async () => {
    const dir = tempDir("agent");
    const cacheDir = path.join(dir, "cache");
    const place = (name: string, dep?: string) => {
      const pkg = path.join(dir, name, "node_modules", "agent");
      fs.cpSync(path.join(FIXTURES, "bun-agent"), pkg, { recursive: true });
      if (dep) {
        const manifest = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8"));
        fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ ...manifest, version: "9.9.9", dependencies: { "ext-dep": "^1" } }));
        fs.mkdirSync(path.join(dir, name, "node_modules", "ext-dep"), { recursive: true });
        fs.writeFileSync(path.join(dir, name, "node_modules", "ext-dep", "package.json"), JSON.stringify({ name: "ext-dep", version: dep }));
      }
      return path.join(pkg, "src/main.ts");
    };
    const builds: string[] = [];
    const onProgress = (m: string) => builds.push(m);

    const first = await ensureAgentBinary({ cacheDir, entry: place("repo"), onProgress });
    // Another project, another absolute path: the same agent, not built again.
    expect(await ensureAgentBinary({ cacheDir, entry: place("elsewhere"), onProgress })).toBe(first);
    expect(builds.length).toBe(1);

    const withDep = await ensureAgentBinary({ cacheDir, entry: place("dep-1.0.0", "1.0.0"), onProgress });
    expect(withDep).not.toBe(first);
    // The same external version in another place: the same agent.
    expect(await ensureAgentBinary({ cacheDir, entry: place("dep-1.0.0-again", "1.0.0"), onProgress })).toBe(withDep);
    expect(builds.length).toBe(2);
    const newer = await ensureAgentBinary({ cacheDir, entry: place("dep-1.0.1", "1.0.1"), onProgress });
    expect(newer).not.toBe(withDep);
    expect(builds.length).toBe(3);
  }, BUILDS);

  test("a build error is reported with bun's message", async () => {
    const dir = tempDir("agent");
    fs.writeFileSync(path.join(dir, "package.json"), "{}");
    fs.writeFileSync(path.join(dir, "main.ts"), 'import "./does-not-exist";\n');
    await expect(ensureAgentBinary({ cacheDir: path.join(dir, "cache"), entry: path.join(dir, "main.ts") })).rejects.toThrow(/building the agent failed[\s\S]*does-not-exist/);
  });
});
