// Benchmarks end to end with real guests: bench(...) in a Lua file records samples into the
// run's events and --bench-out; `provium bench compare` of two runs of the same code passes and
// flags a ~30% slowdown injected into the measured function (a sleep in the guest).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const main = resolve(import.meta.dir, "../src/main.ts");
let dir: string;

async function provium(args: string[]) {
  const p = Bun.spawn(["bun", main, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, FORCE_COLOR: "0" } });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr, out: stdout + stderr };
}

// The measured function sleeps 1 s in the guest; the slow variant sleeps 0.3 s more (~30%).
// Mostly sleep, so the load on a shared TCG machine (which moves a guest op's own cost by tens
// of ms run to run) stays well inside the 10% threshold.
const benchFile = (extra: string) => `
bench("guest sleep", { rounds = 8 }, function(b)
  local vm = provium:vm("b", "minimal"):boot()
  b:time(function() vm:run("sleep 1${extra}") end)
end)

bench("throughput", { better = "higher" }, function(b)
  for i = 1, 6 do b:record(100 + i % 3, "MB/s") end
end)

bench("no samples", function(b) end)
`;

async function run(extra: string, out: string) {
  writeFileSync(join(dir, "speed.test.lua"), benchFile(extra));
  return provium(["speed.test.lua", "--bench-out", out, "--save-events", `${out}.events`]);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provium-bench-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bench", () => {
  test("samples go into events and --bench-out; compare passes for the same code and flags a 30% slowdown", async () => {
    const base = await run("", "base.json");
    // A bench that takes no sample fails, naming what to call.
    expect(base.stdout).toContain("✗ speed.test.lua › no samples");
    expect(base.stdout).toContain("speed.test.lua:11: bench no samples took no samples: call b:time(fn) or b:record(value, unit)");
    expect(base.stdout).toContain("✓ speed.test.lua › guest sleep");
    expect(base.stdout).toMatch(/speed\.test\.lua › guest sleep: median \d+\.\d ms over 8 samples/);
    const file = JSON.parse(readFileSync(join(dir, "base.json"), "utf8"));
    expect(file.format).toBe("provium-bench-v1");
    expect(file.accel).toMatch(/^(kvm|tcg)$/);
    expect(file.host.cores).toBeGreaterThan(0);
    const sleep = file.benchmarks.find((b: any) => b.name === "guest sleep");
    expect(sleep).toMatchObject({ file: "speed.test.lua", kernel: "default", unit: "ms", better: "lower" });
    expect(sleep.samples.length).toBe(8);
    expect(Math.min(...sleep.samples)).toBeGreaterThan(1000);
    expect(file.benchmarks.find((b: any) => b.name === "throughput")).toMatchObject({ unit: "MB/s", better: "higher", samples: [101, 102, 100, 101, 102, 100] });
    const events = readFileSync(join(dir, "base.json.events"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(events.filter((e) => e.kind === "bench_result").map((e) => e.test).sort()).toEqual(["guest sleep", "throughput"]);

    expect((await run("", "same.json")).code).toBe(1); // the "no samples" bench
    const same = await provium(["bench", "compare", "base.json", "same.json"]);
    expect(same.out).toContain("no regression beyond 10%");
    expect(same.code).toBe(0);

    expect((await run("; sleep 0.3", "slow.json")).code).toBe(1);
    const slow = await provium(["bench", "compare", "base.json", "slow.json"]);
    expect(slow.out).toMatch(/speed\.test\.lua › guest sleep: .* REGRESSION/);
    expect(slow.stdout).toContain("1 regression beyond 10%: speed.test.lua › guest sleep");
    expect(slow.code).toBe(1);
    // A threshold above the change lets it pass.
    expect((await provium(["bench", "compare", "base.json", "slow.json", "--threshold", "60"])).code).toBe(0);
  }, 900_000);
});
