// `provium init`: what it scaffolds, that it never overwrites without --force (and then writes
// nothing at all), and where .luarc.json points. The scaffold running on a real VM from an
// installed package is install.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { luaTypesDir } from "@provium/lua-runtime";
import { loadConfig } from "../src/config";
import { init } from "../src/init";

const main = resolve(import.meta.dir, "../src/main.ts");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function project(): string {
  const d = mkdtempSync(join(tmpdir(), "provium-init-"));
  dirs.push(d);
  return d;
}
async function provium(args: string[], cwd: string) {
  const p = Bun.spawn(["bun", main, ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}
const read = (dir: string, f: string) => readFileSync(join(dir, f), "utf8");

describe("provium init", () => {
  test("scaffolds a config, a hello test the runner finds, the LuaLS set-up, .gitignore lines and a CI workflow", async () => {
    const dir = project();
    const r = await provium(["init"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wrote tests/hello.test.lua");

    const config = loadConfig(join(dir, "provium.toml"));
    expect(config.roots).toEqual([join(dir, "tests")]);
    expect(read(dir, "provium.toml")).toContain('# [profiles.web]\n# base = "debian"');

    // The hello test is found under the configured roots and parses (listing boots nothing).
    const list = await provium(["list"], dir);
    expect(list.code).toBe(0);
    expect(list.stdout.trim()).toBe("tests/hello.test.lua › a command runs in the guest");
    expect(read(dir, "tests/hello.test.lua")).toContain('provium:vm("hello", "minimal"):boot()');

    // Run from a checkout, the types are copied into the project.
    const rc = JSON.parse(read(dir, ".luarc.json"));
    expect(rc["workspace.library"]).toEqual([".provium/types"]);
    expect(read(dir, ".provium/types/provium.d.lua")).toContain("function Guest:run(");
    expect(read(dir, ".gitignore")).toBe(".provium/\nprovium-junit.xml\n");

    const wf = read(dir, ".github/workflows/provium.yml");
    for (const step of ["apt-get install -y -qq qemu-system-x86 qemu-utils busybox-static", "oven-sh/setup-bun@v2", `bun-version: "${Bun.version}"`, "path: ~/.cache/provium", "run: bunx provium --junit provium-junit.xml"])
      expect(wf).toContain(step);
    expect(Bun.YAML.parse(wf)).toMatchObject({ name: "provium", jobs: { provium: { "runs-on": "ubuntu-latest" } } });
  });

  test("refuses to overwrite a file, naming it, and writes nothing; --force overwrites", async () => {
    const dir = project();
    mkdirSync(join(dir, "tests"));
    writeFileSync(join(dir, "tests/hello.test.lua"), "-- mine\n");
    const r = await provium(["init"], dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("tests/hello.test.lua already exists");
    expect(r.stderr).toContain("--force");
    expect(read(dir, "tests/hello.test.lua")).toBe("-- mine\n");
    expect(readdirSync(dir).sort()).toEqual(["tests"]);

    const forced = await provium(["init", "--force"], dir);
    expect(forced.code).toBe(0);
    expect(read(dir, "tests/hello.test.lua")).toContain("minimal");
    expect(existsSync(join(dir, "provium.toml"))).toBe(true);
  });

  test("merges into an existing .gitignore and .luarc.json; a .luarc.json that is not JSON stops it before any write", () => {
    const dir = project();
    writeFileSync(join(dir, ".gitignore"), "node_modules/\n.provium/");
    writeFileSync(join(dir, ".luarc.json"), JSON.stringify({ "workspace.library": ["lib"], "diagnostics.globals": ["mine"] }));
    init(dir);
    expect(read(dir, ".gitignore")).toBe("node_modules/\n.provium/\nprovium-junit.xml\n");
    const rc = JSON.parse(read(dir, ".luarc.json"));
    expect(rc["workspace.library"]).toEqual(["lib", ".provium/types"]);
    expect(rc["diagnostics.globals"]).toContain("mine");
    expect(rc["diagnostics.globals"]).toContain("provium");

    const bad = project();
    writeFileSync(join(bad, ".luarc.json"), "{ // a comment\n}");
    expect(() => init(bad)).toThrow(`${join(bad, ".luarc.json")}: not valid JSON`);
    expect(readdirSync(bad)).toEqual([".luarc.json"]);
  });

  test("with provium installed in the project, .luarc.json points at the installed types instead of a copy", () => {
    const dir = project();
    // The layout `bun add -d provium` makes: the types under node_modules/provium's bundled lua-runtime.
    const installed = join(dir, "node_modules/provium/node_modules/@provium/lua-runtime");
    mkdirSync(installed, { recursive: true });
    symlinkSync(luaTypesDir, join(installed, "types"));
    const r = init(dir);
    expect(r.typesInstalled).toBe(true);
    expect(JSON.parse(read(dir, ".luarc.json"))["workspace.library"]).toEqual(["node_modules/provium/node_modules/@provium/lua-runtime/types"]);
    expect(existsSync(join(dir, ".provium"))).toBe(false);
    expect(r.written).not.toContain(".provium/types/provium.d.lua");
  });
});
