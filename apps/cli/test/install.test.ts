// Provium as a user gets it, in directories outside this repository: the tarball `bun run pack`
// makes, installed into an empty project; and the same tarball published to a real registry
// (Verdaccio on 127.0.0.1, its storage in a temp dir), fetched by `bunx` with nothing installed
// and by `bun add -d provium`. Each scaffolds with `provium init` and runs the scaffolded test on
// a real VM. The guest kernel, agent and images come from the normal cache (~/.cache/provium):
// the installed agent's sources are the repository's, so its cached build is the same one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dir, "../../..");
const version: string = JSON.parse(readFileSync(join(repo, "apps/cli/package.json"), "utf8")).version;
// Generous: this machine is loaded and guests run under TCG.
const TIMEOUT = 20 * 60_000;

const temps: string[] = [];
function tempDir(tag: string): string {
  const d = realpathSync(mkdtempSync(join(tmpdir(), `provium-install-${tag}-`)));
  temps.push(d);
  return d;
}
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Ran {
  code: number;
  stdout: string;
  /** stdout and stderr */
  out: string;
  ms: number;
}
/** Runs a command; a non-zero exit fails the test with the command's output. */
async function sh(cmd: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<Ran> {
  const t = performance.now();
  const p = Bun.spawn(cmd, { cwd, env: { ...process.env, FORCE_COLOR: "0", ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const r = { code: await p.exited, stdout, out: stdout + stderr, ms: performance.now() - t };
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} (in ${cwd}) exited ${r.code}:\n${r.out}`);
  return r;
}
const secs = (r: Ran) => `${(r.ms / 1000).toFixed(2)} s`;

function emptyProject(tag: string): string {
  const dir = tempDir(tag);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `provium-${tag}`, private: true }, null, 2) + "\n");
  return dir;
}

/** `provium init` then `provium` in `dir`: the scaffolded hello test passes on a real VM. */
async function initAndRun(dir: string, provium: string[], env: Record<string, string> = {}) {
  const init = await sh([...provium, "init"], dir, env);
  expect(init.out).toContain("wrote tests/hello.test.lua");
  const run = await sh([...provium], dir, env);
  expect(run.out).toContain("✓ tests/hello.test.lua › a command runs in the guest");
  expect(run.out).toMatch(/^1 passed, 0 failed/m);
  return { init, run };
}

let tgz = "";
beforeAll(async () => {
  const dist = tempDir("dist");
  const packed = await sh(["bun", "run", "pack", dist], repo);
  tgz = join(dist, `provium-${version}.tgz`);
  expect(existsSync(tgz)).toBe(true);
  console.log(`bun run pack: ${secs(packed)}, ${(Bun.file(tgz).size / 1024).toFixed(0)} KiB`);
}, TIMEOUT);

describe("the packed tarball", () => {
  test(
    "bun add -d provium-<version>.tgz in an empty project, provium init, provium: the hello test passes on a VM",
    async () => {
      const dir = emptyProject("tarball");
      const add = await sh(["bun", "add", "-d", tgz], dir);
      const installed = join(dir, "node_modules/provium/node_modules/@provium");
      expect(readdirSync(installed).sort()).toEqual(["agent", "bench-stats", "fixture-cache", "host-runtime", "lua-runtime", "netswitch", "protocol", "vmm"]);

      const { init, run } = await initAndRun(dir, ["bun", "x", "provium"]);
      // Installed in the project: the editor reads the installed types, not a copy.
      const library: string[] = JSON.parse(readFileSync(join(dir, ".luarc.json"), "utf8"))["workspace.library"];
      expect(library).toEqual(["node_modules/provium/node_modules/@provium/lua-runtime/types"]);
      expect(readFileSync(join(dir, library[0]!, "provium.d.lua"), "utf8")).toContain("function Guest:run(");
      expect(existsSync(join(dir, ".provium/types"))).toBe(false);
      console.log(`tarball: bun add -d ${secs(add)}, provium init ${secs(init)}, provium ${secs(run)}`);
    },
    TIMEOUT,
  );
});

describe("a registry round trip (Verdaccio)", () => {
  let registry = "";
  let verdaccio: ReturnType<typeof Bun.spawn> | null = null;
  let log = "";

  beforeAll(async () => {
    const home = tempDir("verdaccio");
    log = join(home, "verdaccio.log");
    // External packages come through from the registry this machine's npm uses.
    const upstream = (await sh(["npm", "config", "get", "registry"], home)).out.trim();
    expect(upstream).toMatch(/^https?:\/\//);
    const port = await freePort();
    registry = `http://127.0.0.1:${port}/`;
    writeFileSync(join(home, "htpasswd"), "");
    writeFileSync(
      join(home, "config.yaml"),
      [
        `storage: ${join(home, "storage")}`,
        `auth: { htpasswd: { file: ${join(home, "htpasswd")} } }`,
        `uplinks: { upstream: { url: "${upstream}", timeout: 60s } }`,
        "packages:",
        // provium itself only from here (never the upstream's package of that name, if any).
        "  'provium': { access: $all, publish: $all }",
        "  '**': { access: $all, publish: $all, proxy: upstream }",
        "log: { type: stdout, format: pretty, level: warn }",
      ].join("\n") + "\n",
    );
    const bin = join(repo, "node_modules/verdaccio/bin/verdaccio");
    const fd = openSync(log, "a");
    verdaccio = Bun.spawn(["node", bin, "--config", join(home, "config.yaml"), "--listen", `127.0.0.1:${port}`], { cwd: home, stdin: "ignore", stdout: fd, stderr: fd });
    closeSync(fd);
    process.on("exit", () => verdaccio?.kill()); // also when the test run itself is interrupted
    await until(async () => (await fetch(`${registry}-/ping`).catch(() => null))?.ok === true, 60_000, () => `verdaccio did not answer on ${registry}:\n${readLog()}`);

    // Publish as a maintainer would: any token passes `publish: $all`.
    const publisher = emptyProject("publisher");
    writeFileSync(join(publisher, "bunfig.toml"), `[install]\nregistry = { url = "${registry}", token = "provium-test" }\n`);
    await sh(["bun", "publish", tgz], publisher);
    const meta = (await (await fetch(`${registry}provium`)).json()) as { versions: Record<string, unknown> };
    expect(Object.keys(meta.versions)).toEqual([version]);
  }, TIMEOUT);

  afterAll(async () => {
    verdaccio?.kill();
    await verdaccio?.exited;
  });

  const readLog = () => (existsSync(log) ? readFileSync(log, "utf8").slice(-4000) : "");
  /** A user whose only registry is ours, with an empty package cache: nothing installed anywhere. */
  const user = () => {
    const cache = tempDir("bun-cache");
    return { BUN_CONFIG_REGISTRY: registry, NPM_CONFIG_REGISTRY: registry, BUN_INSTALL_CACHE_DIR: cache };
  };

  test(
    "nothing installed: bunx provium --version, bunx provium init, bunx provium: the hello test passes on a VM",
    async () => {
      const env = user();
      const dir = tempDir("bunx");
      const v = await sh(["bunx", "provium", "--version"], dir, env);
      expect(v.stdout.trim()).toBe(version); // bunx says what it installed on stderr
      const { init, run } = await initAndRun(dir, ["bunx", "provium"], env);
      // Not installed in the project: the types are a copy.
      expect(JSON.parse(readFileSync(join(dir, ".luarc.json"), "utf8"))["workspace.library"]).toEqual([".provium/types"]);
      console.log(`registry, bunx: --version (fetch + install) ${secs(v)}, init ${secs(init)}, provium ${secs(run)}`);
    },
    TIMEOUT,
  );

  test(
    "bun add -d provium in an empty project, then bun x provium: the hello test passes on a VM",
    async () => {
      const env = user();
      const dir = emptyProject("registry");
      const add = await sh(["bun", "add", "-d", "provium"], dir, env);
      expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).devDependencies.provium).toContain(version);
      expect(readFileSync(join(dir, "bun.lock"), "utf8")).toContain(`"provium@${version}"`);
      const { run } = await initAndRun(dir, ["bun", "x", "provium"], env);
      console.log(`registry, bun add -d provium ${secs(add)}, provium ${secs(run)}`);
    },
    TIMEOUT,
  );
});

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

async function until(ready: () => Promise<boolean>, ms: number, why: () => string) {
  const end = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error(why());
    await Bun.sleep(250);
  }
}
