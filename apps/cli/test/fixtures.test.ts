// Fixtures end to end on real guests: built once across files, cached, invalidated by a
// pushed host file, rebuilt when the cache entry is corrupt, and clear when a builder fails.
import { afterAll, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { cacheRoot } from "@provium/vmm";

const main = resolve(import.meta.dir, "../src/main.ts");

async function provium(cwd: string, args: string[]) {
  const p = Bun.spawn(["bun", main, ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const events = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { code: await p.exited, stdout, stderr, events, count: (k: string) => events.filter((e: any) => e.kind === k).length };
}

// A suite in a temp dir; the builder carries a unique marker so its key is new to the cache.
const suites: string[] = [];
afterAll(() => suites.forEach((d) => rmSync(d, { recursive: true, force: true })));
function suite(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "provium-fx-"));
  suites.push(dir);
  const marker = `${process.pid}-${Date.now()}-${Math.random()}`;
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body.replaceAll("MARKER", marker));
  return dir;
}

const reader = (name: string) => `local vm = provium:vm_fixture("base")
test("${name} sees the fixture", function(t)
  t:assert_eq(vm:run("cat /tmp/data").stdout, vm:run("cat /tmp/expected").stdout)
end)`;

describe("fixtures", () => {
  test("built once across two files running at once, then cached; a pushed host file change rebuilds", async () => {
    const dir = suite({
      "data.txt": "v1",
      "base.fixture.lua": `-- MARKER
local vm = provium:vm("base", "minimal"):boot()
vm:push_file("data.txt", "/tmp/data")
vm:write_file("/tmp/expected", "v1")
return vm:snapshot()`,
      "a.test.lua": reader("a"),
      "b.test.lua": reader("b"),
    });
    const first = await provium(dir, [".", "--json", "-j", "2", "--cpu-overcommit", "4"]);
    expect(first.count("test_passed")).toBe(2);
    expect(first.count("fixture_build_started")).toBe(1);
    expect(first.count("fixture_build_done")).toBe(1);
    expect(first.count("fixture_cache_hit")).toBe(1);

    const second = await provium(dir, [".", "--json", "-j", "2", "--cpu-overcommit", "4"]);
    expect(second.count("fixture_build_started")).toBe(0);
    expect(second.count("fixture_cache_hit")).toBe(2);

    writeFileSync(join(dir, "data.txt"), "v2");
    writeFileSync(join(dir, "expected.lua"), "");
    const third = await provium(dir, ["a.test.lua", "--json"]);
    expect(third.count("fixture_build_started")).toBe(1);
    // The rebuilt fixture holds the new file (and the test compares it with the old text).
    expect(third.count("test_failed")).toBe(1);
  }, 600_000);

  test("a builder whose comment and string mention vm_fixture(\"base\") builds and resumes (no cycle)", async () => {
    const dir = suite({
      "base.fixture.lua": `-- MARKER: tests resume this with provium:vm_fixture("base")
local usage = [[local vm = provium:vm_fixture("base")]]
local vm <const> = provium:vm("base", "minimal"):boot()
vm:write_file("/tmp/data", usage)
vm:write_file("/tmp/expected", 'local vm = provium:vm_fixture("base")')
return vm:snapshot()`,
      "a.test.lua": reader("a"),
    });
    const r = await provium(dir, [".", "--json"]);
    expect(r.events.filter((e: any) => e.kind === "test_failed" || e.kind === "file_error").map((e: any) => e.reason)).toEqual([]);
    expect(r.count("fixture_build_done")).toBe(1);
    expect(r.count("test_passed")).toBe(1);
  }, 300_000);

  test("a corrupt cache entry is a miss: rebuilt with a warning", async () => {
    const dir = suite({
      "base.fixture.lua": `-- MARKER
local vm = provium:vm("base", "minimal"):boot()
vm:run("echo ok > /tmp/data; echo ok > /tmp/expected"):assert_ok()
return vm:snapshot()`,
      "a.test.lua": reader("a"),
    });
    const first = await provium(dir, [".", "--json"]);
    expect(first.count("test_passed")).toBe(1);
    const key = first.events.find((e: any) => e.kind === "fixture_build_done").key;
    const entry = join(cacheRoot(), "fixtures", "entries", key);
    const sub = readdirSync(entry)[0]!;
    const mem = join(entry, sub, readdirSync(join(entry, sub))[0]!);
    truncateSync(mem, 4096);
    const second = await provium(dir, [".", "--json"]);
    expect(second.events.some((e: any) => e.kind === "progress" && /did not load.*rebuilding/.test(e.message))).toBe(true);
    expect(second.count("fixture_build_done")).toBe(1);
    expect(second.count("test_passed")).toBe(1);
  }, 600_000);

  test("a failing builder names its file:line and leaves no cache entry; a non-snapshot is refused", async () => {
    const dir = suite({
      "broken.fixture.lua": `-- MARKER
local vm = provium:vm("b", "minimal")
error("builder broke")`,
      "notsnap.fixture.lua": `-- MARKER
return 42`,
      "unparsable.fixture.lua": `-- MARKER
local vm = = 1`,
      "a.test.lua": `test("broken", function(t) provium:vm_fixture("broken") end)
test("not a snapshot", function(t) provium:vm_fixture("notsnap") end)
test("does not parse", function(t) provium:vm_fixture("unparsable") end)`,
    });
    const r = await provium(dir, [".", "--json"]);
    const failed = r.events.filter((e: any) => e.kind === "test_failed");
    expect(failed[0].reason).toContain("fixture broken failed to build");
    expect(failed[0].reason).toContain("broken.fixture.lua:3: builder broke");
    expect(failed[1].reason).toContain("a fixture must return a snapshot (e.g. return vm:snapshot()), it returned 42");
    expect(failed[2].reason).toContain("a.test.lua:3: ");
    expect(failed[2].reason).toContain("unparsable.fixture.lua:2: does not parse as Lua, so its dependencies cannot be found");
    const list = await provium(dir, ["fixture", "stale"]);
    expect(list.stdout).toContain("not built: broken");
    expect(list.stdout).toContain("not built: notsnap");
  }, 300_000);
});
