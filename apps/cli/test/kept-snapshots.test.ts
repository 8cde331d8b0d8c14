// Snapshots written to a path the test chose outlive the run that took them (the run's own
// snapshots do not), and a later run restores a lab snapshot's directory into new VMs.
// Two real runs of the CLI on a `minimal` guest.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const main = resolve(import.meta.dir, "../src/main.ts");
const dir = mkdtempSync(join(tmpdir(), "provium-kept-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function provium(file: string) {
  const p = Bun.spawn(["bun", main, file, "-v", "--cpu-overcommit", "4"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out: stdout + stderr };
}

test(
  "vm:snapshot(path) and lab:snapshot(dir) are kept after the file ends; a later file restores the directory into new VMs",
  async () => {
    writeFileSync(
      join(dir, "take.test.lua"),
      `local vm = provium:vm("keep", "minimal", { memory = "256M" }):boot()
test("takes snapshots", function(t)
  vm:run("echo kept > /tmp/state"):assert_ok()
  print("OWN=" .. vm:snapshot():path())
  print("FILE=" .. vm:snapshot("out/keep.mem"):path())
  print("LAB=" .. provium:snapshot("out/lab"))
end)
`,
    );
    const took = await provium("take.test.lua");
    expect(took.out).toContain("1 passed");
    const own = took.out.match(/OWN=(\S+)/)![1]!;
    expect(took.out).toContain(`FILE=${join(dir, "out/keep.mem")}`);
    expect(took.out).toContain("LAB=out/lab"); // upstream's shape: the directory, as given
    expect(existsSync(own)).toBe(false); // the run's own snapshot went with it
    expect(existsSync(join(dir, "out/keep.mem"))).toBe(true);
    expect(existsSync(join(dir, "out/lab/keep.mem"))).toBe(true);
    const meta = JSON.parse(readFileSync(join(dir, "out/lab/lab.json"), "utf8"));
    expect(meta.vms.map((v: any) => [v.name, v.profile, v.memory_mib, v.cpus, v.state])).toEqual([["keep", "minimal", 256, 1, "keep.mem"]]);

    writeFileSync(
      join(dir, "resume.test.lua"),
      `provium:restore("out/lab")
local vm = provium:vm("keep")
test("the VM is back, with its state", function(t)
  t:assert_eq(vm:run("cat /tmp/state").stdout, "kept\\n")
  t:assert_eq(#provium:members(), 1)
end)
`,
    );
    const resumed = await provium("resume.test.lua");
    expect(resumed.out).toContain("1 passed");
    expect(existsSync(join(dir, "out/lab/lab.json"))).toBe(true); // restoring does not use it up
  },
  240_000,
);
