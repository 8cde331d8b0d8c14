// Time-balanced shards: the split itself, and the CLI running each shard of a suite whose
// timings file has one slow file and many fast ones (plain Lua files: no guest needed).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { planShard, spread, type Timings } from "../src/runner/shards";

const main = resolve(import.meta.dir, "../src/main.ts");
const tmp = mkdtempSync(join(tmpdir(), "provium-shards-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const names = ["slow", ...Array.from({ length: 9 }, (_, i) => `fast${i}`)];
const timings: Timings = { version: 1, files: Object.fromEntries(names.map((n) => [`t/${n}.test.lua`, n === "slow" ? 60_000 : 5_000])) };

describe("planShard", () => {
  const files = names.map((n) => join(tmp, "t", `${n}.test.lua`));
  const plans = [1, 2, 3].map((index) => planShard(files, timings, tmp, { index, count: 3 }));

  test("every file lands in exactly one shard, and the slow file's shard gets fewer files", () => {
    expect(plans.flatMap((p) => p.files).sort()).toEqual([...files].sort());
    const slowShard = plans.find((p) => p.files.some((f) => f.endsWith("slow.test.lua")))!;
    for (const p of plans) if (p !== slowShard) expect(slowShard.files.length).toBeLessThan(p.files.length);
    // 60 s alone against 45 s of fast files split over two shards: the best split there is
    expect(plans[0]!.expectedMs).toEqual([60_000, 25_000, 20_000]);
    expect(spread(plans[0]!.expectedMs)).toBeCloseTo(60 / 35, 5);
  });

  test("every runner computes the same split, whatever the order it discovered files in", () => {
    const again = planShard([...files].reverse(), timings, tmp, { index: 2, count: 3 });
    expect(again.files).toEqual(plans[1]!.files);
  });

  test("files without a recorded time count as the median of the known ones", () => {
    const extra = [...files, join(tmp, "t", "new.test.lua")];
    const p = planShard(extra, timings, tmp, { index: 1, count: 3 });
    expect(p.unknown).toBe(1);
    expect(p.expectedMs.reduce((a, b) => a + b, 0)).toBe(60_000 + 9 * 5_000 + 5_000);
  });
});

async function provium(args: string[]) {
  const p = Bun.spawn(["bun", main, ...args], { cwd: tmp, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}

describe("provium --shard", () => {
  mkdirSync(join(tmp, "t"), { recursive: true });
  writeFileSync(join(tmp, "provium.toml"), '[provium]\nroots = ["t"]\n');
  for (const n of names) writeFileSync(join(tmp, "t", `${n}.test.lua`), `test("${n}", function(t) t:assert(true) end)\n`);
  const timingsFile = join(tmp, "provium-timings.json");

  test("three shards run every file once; the slow file's shard runs fewer; each prints its expected time", async () => {
    writeFileSync(timingsFile, JSON.stringify(timings));
    const ran: string[][] = [];
    for (const i of [1, 2, 3]) {
      const r = await provium(["--shard", `${i}/3`, "--json"]);
      expect(r.code).toBe(0);
      const evs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      const planned = evs.find((e) => e.kind === "shard_planned");
      expect(planned).toMatchObject({ shard: `${i}/3`, of: 10, spread: 60 / 35 });
      ran.push(evs.filter((e) => e.kind === "test_passed").map((e) => e.test));
      expect(planned.files).toBe(ran[i - 1]!.length);
    }
    expect(JSON.parse(readFileSync(timingsFile, "utf8"))).toEqual(timings); // the split the other shards read
    expect(ran.flat().sort()).toEqual([...names].sort());
    const slow = ran.find((r) => r.includes("slow"))!;
    expect(slow).toEqual(["slow"]);
    const human = await provium(["--shard", "1/3"]);
    expect(human.stdout).toMatch(/shard 1\/3: \d+ of 10 files, expected ~\d.* of file time/);
  });

  test("an unsharded run records its files' durations in the timings file", async () => {
    rmSync(timingsFile, { force: true });
    expect((await provium([])).code).toBe(0);
    const t = JSON.parse(readFileSync(timingsFile, "utf8"));
    expect(Object.keys(t.files).sort()).toEqual(names.map((n) => `t/${n}.test.lua`).sort());
    expect(Object.values(t.files).every((ms) => typeof ms === "number" && ms >= 0)).toBe(true);
  });

  test("a broken timings file is named in the error", async () => {
    writeFileSync(timingsFile, "{ not json");
    const r = await provium(["--shard", "1/2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`provium: --shard: ${timingsFile}: not a timings file`);
    rmSync(timingsFile);
    expect(existsSync(timingsFile)).toBe(false);
  });
});

describe("provium report merge", () => {
  test("shards' saved events become one report whose totals add up, in JUnit and in timings", async () => {
    // one failing file, so the merged report has failures to carry
    writeFileSync(join(tmp, "t", "fast0.test.lua"), 'test("fast0", function(t) t:assert_eq(1, 2) end)\n');
    const shards = [1, 2].map((i) => join(tmp, `shard-${i}.jsonl`));
    const summaries = [];
    for (const [i, f] of shards.entries()) {
      await provium(["--shard", `${i + 1}/2`, "--save-events", f, "-q"]);
      const evs = readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      summaries.push({ passed: evs.filter((e) => e.kind === "test_passed").length, failed: evs.filter((e) => e.kind === "test_failed").length });
    }
    const junit = join(tmp, "merged.xml");
    const merged = join(tmp, "merged.jsonl");
    const mergedTimings = join(tmp, "merged-timings.json");
    const r = await provium(["report", "merge", ...shards, "--junit", junit, "--save-events", merged, "--timings", mergedTimings]);
    expect(r.code).toBe(1); // a test failed in one shard
    const xml = readFileSync(junit, "utf8");
    expect(xml).toContain(`tests="${names.length}"`);
    expect(xml).toContain('failures="1"');
    const evs = readFileSync(merged, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(evs.filter((e) => e.kind === "run_started")).toHaveLength(1);
    expect(evs.filter((e) => e.kind === "test_passed")).toHaveLength(summaries[0]!.passed + summaries[1]!.passed);
    expect(Object.keys(JSON.parse(readFileSync(mergedTimings, "utf8")).files)).toHaveLength(names.length);
    const human = await provium(["report", "merge", ...shards]);
    expect(human.stdout).toContain(`${names.length - 1} passed, 1 failed`);
    // the same shard under two names: each of its files is named as overlapping
    const copy = join(tmp, "again.jsonl");
    writeFileSync(copy, readFileSync(shards[0]!));
    const twice = await provium(["report", "merge", shards[0]!, copy]);
    const ranInShard1 = readFileSync(shards[0]!, "utf8").match(/"kind":"file_dispatched"/g)!.length;
    expect(twice.stderr.match(/ran in more than one of the inputs/g)).toHaveLength(ranInShard1);
  });
});
