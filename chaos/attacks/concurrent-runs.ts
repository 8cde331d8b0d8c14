// Two runs of the same suite at once on one cache: both pass, and its fixture is built once
// (the cache's build lock is held across processes, the other run waits and resumes it).
import { countLeftovers, provium, suite } from "../harness";
import { newRow, type AttackResult } from "../table";

export async function concurrentRuns(o: { rounds: number }): Promise<AttackResult[]> {
  const r = newRow("two runs of one suite at once, one cache");
  for (let round = 0; round < o.rounds; round++) {
    const dir = suite({
      "base.fixture.lua": `-- MARKER\nlocal vm = provium:vm("b", "minimal"):boot()\nvm:write_file("/tmp/built", "MARKER")\nreturn vm:snapshot()`,
      "a.test.lua": `local vm = provium:vm_fixture("base")\ntest("a sees the fixture", function(t) t:assert_eq(vm:read_file("/tmp/built"), "MARKER") end)\n`,
      "b.test.lua": `local vm = provium:vm_fixture("base")\ntest("b sees the fixture", function(t) t:assert_eq(vm:read_file("/tmp/built"), "MARKER") end)\n`,
    });
    const runs = await Promise.all([provium(dir, ["."]), provium(dir, ["."])]);
    const builds = runs.reduce((n, x) => n + x.count("fixture_build_done"), 0);
    for (const run of runs) {
      r.tries++;
      r.peakMiB = Math.max(r.peakMiB, run.peakRssMiB);
      if (run.code === 0 && run.count("test_passed") === 2) r.namedFailures++;
      else r.notes.push(`a run failed: ${run.stderr.trim().slice(-300)} ${JSON.stringify(run.events.filter((e) => /failed|error/.test(e.kind)).map((e) => e.reason)).slice(0, 3000)}`);
      await countLeftovers(r, run.pid);
    }
    if (builds !== 1) {
      r.crashes++; // not a crash, but a defect the table must show: counted where it fails the run
      r.notes.push(`the fixture was built ${builds} times across the two runs (expected once)`);
    }
  }
  return [r];
}
