// Floods: 1 GiB on stdout of one command, thousands of processes started in a loop. Each must
// end in a clear error or succeed, with the VM alive afterwards and the host's memory bounded.
import { countLeftovers, provium, suite } from "../harness";
import { newRow, type AttackResult } from "../table";

export async function floods(o: { processes: number }): Promise<AttackResult[]> {
  const dir = suite({
    "flood.test.lua": `local vm = provium:vm("f", "minimal"):boot()
test("1 GiB on stdout", function(t)
  local ok, err = pcall(vm.run, vm, "head -c 1073741824 /dev/zero")
  t:assert(not ok, "a 1 GiB output was kept whole")
  t:assert_contains(tostring(err), "so it was killed")
  t:assert_eq(vm:run("echo alive").stdout, "alive\\n")
end)
test("${o.processes} processes started in a loop", function(t)
  for i = 1, ${o.processes} do vm:run_async("true") end
  t:assert_eq(vm:run("echo alive").stdout, "alive\\n")
end)
`,
  });
  const run = await provium(dir, ["--timeout", "900s", "."]);
  const rows: AttackResult[] = [];
  for (const name of ["1 GiB on stdout", `${o.processes} processes started in a loop`]) {
    const e = run.events.find((x) => x.test === name && (x.kind === "test_passed" || x.kind === "test_failed"));
    const r = newRow(`flood: ${name}`);
    r.tries = 1;
    r.namedFailures = e?.kind === "test_passed" ? 1 : 0;
    r.hangs = e ? 0 : 1;
    r.peakMiB = run.peakRssMiB;
    if (e?.kind === "test_failed") r.notes.push(String(e.reason).split("\n").slice(0, 3).join(" | "));
    rows.push(r);
  }
  await countLeftovers(rows[0]!, run.pid);
  return rows;
}
