// Runner flags, event kinds and reporters. These suites need no guest (pure Lua files),
// except where a boot is what is being tested.
import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const main = resolve(import.meta.dir, "../src/main.ts");
const dir = join(import.meta.dir, "fixtures/runner");

async function provium(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn(["bun", main, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}

async function events(args: string[], env: Record<string, string> = {}) {
  const r = await provium([...args, "--json"], env);
  return { ...r, events: r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) };
}

const outcomes = (evs: any[]) =>
  evs.filter((e) => ["test_passed", "test_failed", "test_skipped"].includes(e.kind)).map((e) => `${e.kind.slice(5)} ${e.test}`).sort();

describe("selection", () => {
  test("default: slow skipped with the flag to use, todo files skipped with their reason", async () => {
    const r = await events(["sel"]);
    expect(outcomes(r.events)).toEqual(["failed alpha net", "passed alpha fast", "passed beta one", "passed beta two", "skipped alpha slow", "skipped gamma"]);
    expect(r.events.find((e: any) => e.test === "alpha slow").reason).toBe("slow (use --include-slow)");
    expect(r.events.find((e: any) => e.test === "gamma").reason).toBe("todo: waiting for the kernel fix");
    expect(r.code).toBe(1);
  });

  test("--filter, --tag, --no-tag and --include-slow", async () => {
    expect(outcomes((await events(["sel", "--filter", "beta"])).events)).toEqual(["passed beta one", "passed beta two", "skipped gamma"]);
    expect(outcomes((await events(["sel", "--tag", "fast"])).events)).toEqual(["passed alpha fast", "passed beta two", "skipped gamma"]);
    const r = await events(["sel", "--no-tag", "net", "--include-slow"]);
    expect(outcomes(r.events)).toEqual(["passed alpha fast", "passed alpha slow", "passed beta one", "passed beta two", "skipped gamma"]);
    expect(r.code).toBe(0);
  });

  test("--shard splits files across machines with nothing lost", async () => {
    const a = outcomes((await events(["sel", "--shard", "1/2"])).events);
    const b = outcomes((await events(["sel", "--shard", "2/2"])).events);
    expect([...a, ...b].sort()).toEqual(outcomes((await events(["sel"])).events));
    expect(a.length && b.length).toBeTruthy();
    expect((await provium(["sel", "--shard", "3/2"])).stderr).toContain("--shard must be i/n with 1 <= i <= n");
  });

  test("--fail-fast stops dispatching after the first failure", async () => {
    const r = await events(["sel", "--fail-fast", "-j", "1"]);
    expect(r.events.filter((e: any) => e.kind === "file_dispatched").map((e: any) => e.file)).toEqual(["sel/a.test.lua"]);
  });

  test("--rerun-failed runs only what failed last time", async () => {
    await events(["sel"]);
    const r = await events(["sel", "--rerun-failed"]);
    expect(outcomes(r.events)).toEqual(["failed alpha net"]);
  });

  test("list names the tests without running them", async () => {
    const r = await provium(["list", "sel"]);
    expect(r.stdout.trim().split("\n")).toEqual([
      "sel/a.test.lua › alpha fast",
      "sel/a.test.lua › alpha net",
      "sel/b.test.lua › beta one",
      "sel/b.test.lua › beta two",
      "sel/c.test.lua › gamma  (todo)",
    ]);
  });
});

describe("events and reporters", () => {
  test("every event is versioned and timestamped; meta is passed through", async () => {
    const r = await events(["sel"]);
    const kinds = new Set(r.events.map((e: any) => e.kind));
    for (const k of ["run_started", "file_dispatched", "test_started", "test_passed", "test_failed", "test_skipped", "file_completed", "run_completed"]) expect(kinds.has(k)).toBe(true);
    expect(r.events.every((e: any) => e.v === 1 && Number.isFinite(e.ts))).toBe(true);
    const failed = r.events.find((e: any) => e.kind === "test_failed");
    expect(failed.meta).toEqual({ spec: "NET-1", tags: ["net"] });
    expect(failed.traceback).toContain("sel/a.test.lua:3");
    expect(typeof failed.duration_ms).toBe("number");
  });

  test("saved events replayed through the reporter give the same report", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "provium-ev-"));
    const live = await provium(["sel", "--save-events", join(tmp, "ev.jsonl")]);
    const replay = await provium(["report", join(tmp, "ev.jsonl")]);
    const strip = (s: string) => s.replace(/\(\d+ ms\)|\(\d+\.\d+ s\)/g, "");
    expect(strip(replay.stdout)).toBe(strip(live.stdout));
    expect(replay.code).toBe(live.code);
    rmSync(tmp, { recursive: true });
  });

  test("--junit writes XML that validates against the JUnit schema", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "provium-junit-"));
    const out = join(tmp, "junit.xml");
    await provium(["sel", "--junit", out]);
    const xml = readFileSync(out, "utf8");
    expect(xml).toContain('<testsuites name="provium" tests="6" failures="1" errors="0"');
    expect(xml).toContain('<property name="alpha net › spec" value="NET-1"/>');
    expect(xml).toContain('<failure message="sel/a.test.lua:3: failed: net is down"');
    const xsd = join(import.meta.dir, "junit.xsd");
    const v = Bun.spawnSync(["xmllint", "--noout", "--schema", xsd, out], { stderr: "pipe" });
    expect(v.stderr.toString()).toContain("validates");
    expect(v.exitCode).toBe(0);
    rmSync(tmp, { recursive: true });
  });

  test("--events-socket streams JSON lines to a listener", async () => {
    const sockDir = mkdtempSync(join(tmpdir(), "provium-sock-"));
    const path = join(sockDir, "events.sock");
    let received = "";
    const server = Bun.listen({ unix: path, socket: { data: (_s, d) => void (received += d.toString()) } });
    const r = await provium(["sel/b.test.lua", "--events-socket", path]);
    await Bun.sleep(50);
    server.stop(true);
    rmSync(sockDir, { recursive: true, force: true });
    expect(r.code).toBe(0);
    const kinds = received.trim().split("\n").map((l) => JSON.parse(l).kind);
    expect(kinds[0]).toBe("run_started");
    expect(kinds.at(-1)).toBe("run_completed");
    expect(kinds.filter((k) => k === "test_passed").length).toBe(2);
  });
});

describe("timeouts, crashes and capacity", () => {
  test("a file timeout (provium.timeout) and a meta timeout fail their test with the cause", async () => {
    const r = await events(["timeouts"]);
    const failed = r.events.filter((e: any) => e.kind === "test_failed");
    expect(failed.find((e: any) => e.test === "spins forever").reason).toBe("file timed out after 1 s");
    expect(failed.find((e: any) => e.test === "sleeps past its meta timeout").reason).toBe('test "sleeps past its meta timeout" timed out after 0.5 s');
    expect(r.code).toBe(1);
  });

  test("a crashed runner worker fails only the file it was running", async () => {
    const r = await events(["crash", "-j", "1"], { PROVIUM_TEST_HOOKS: "1" });
    const err = r.events.find((e: any) => e.kind === "file_error");
    expect(err.file).toBe("crash/a_crash.test.lua");
    expect(err.reason).toContain("runner worker crashed");
    expect(outcomes(r.events)).toEqual(["passed runs after a worker crash"]);
  });

  test("a boot that can never fit fails at once, before its image is built; a second claim is refused", async () => {
    // An empty cache: building the image would fetch a kernel and compile the agent first.
    const cache = mkdtempSync(join(tmpdir(), "provium-coldcache-"));
    try {
      const r = await events(["cap"], { PROVIUM_CACHE_DIR: cache });
      const failed = r.events.find((e: any) => e.kind === "test_failed");
      expect(failed.reason).toContain("vm huge: boot needs 65536 MiB and 1 vCPUs, which exceeds pool total: the host pool has");
      // "at once": nothing was fetched or built for it (not a wall-clock bound: a KVM probe or
      // a loaded CI machine may take seconds before the refusal).
      const built = readdirSync(cache).filter((e) => ["kernels", "agents", "images", "rootfs", "agent-disks"].includes(e));
      expect(built).toEqual([]);
      expect(outcomes(r.events)).toContain("passed claim reserves once");
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

describe("editor support", () => {
  test("lsp-setup writes definitions for the whole API and a .luarc.json that loads them", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "provium-lsp-"));
    const r = await provium(["lsp-setup", "--dir", tmp]);
    expect(r.code).toBe(0);
    const rc = JSON.parse(readFileSync(join(tmp, ".luarc.json"), "utf8"));
    expect(rc["workspace.library"]).toContain(".provium/types");
    expect(rc["runtime.version"]).toBe("Lua 5.4");
    const types = readFileSync(join(tmp, ".provium/types/provium.d.lua"), "utf8");
    for (const sym of ["function Guest:run(", "function Guest:read_file(", "function Process:wait(", "function Stream:expect(", "function VM:snapshot(", "function Lab:vm_fixture(", "function T:assert_eq(", "function wait_until(", "function test("])
      expect(types).toContain(sym);
    rmSync(tmp, { recursive: true });
  });
});
