// Deaths mid-op: QEMU SIGKILLed (by the harness, from the run's own vm_spawned event), the
// agent SIGKILLed and the guest kernel panicking (from inside the guest), during a run, a
// 64 MiB read_file and a snapshot. Each test must fail naming what died, with the console's
// last lines; the next test file must pass.
import { countLeftovers, provium, suite } from "../harness";
import { newRow, type AttackResult } from "../table";

const KILL_QEMU = "KILL-QEMU-NOW";
// Test name -> what its failure must name.
export const DEATHS: Record<string, { body: string; names: RegExp }> = {
  "QEMU SIGKILLed during run": { body: `print("${KILL_QEMU}")\n  vm:run("sleep 20")`, names: /QEMU was killed by SIGKILL/ },
  "QEMU SIGKILLed during a 64 MiB read_file": {
    body: `vm:run("head -c 67108864 /dev/zero > /tmp/big")\n  print("${KILL_QEMU}")\n  for i = 1, 20 do vm:read_file("/tmp/big") end`,
    names: /QEMU was killed by SIGKILL/,
  },
  "agent SIGKILLed during run": { body: `vm:run_async("sh", {args = {"-c", "sleep 0.5; kill -9 $PPID"}})\n  vm:run("sleep 20")`, names: /agent exited with status 137/ },
  "agent SIGKILLed during a 64 MiB read_file": {
    body: `vm:run("head -c 67108864 /dev/zero > /tmp/big")\n  vm:run_async("sh", {args = {"-c", "sleep 0.2; kill -9 $PPID"}})\n  for i = 1, 20 do vm:read_file("/tmp/big") end`,
    names: /agent exited with status 137/,
  },
  "kernel panic during run": { body: `vm:run_async("sh", {args = {"-c", "sleep 0.5; echo c > /proc/sysrq-trigger"}})\n  vm:run("sleep 20")`, names: /kernel panicked: sysrq triggered crash/ },
  "kernel panic during a snapshot": {
    body: `vm:run_async("sh", {args = {"-c", "sleep 0.3; echo c > /proc/sysrq-trigger"}})\n  for i = 1, 10 do vm:snapshot() end\n  vm:run("sleep 20")`,
    names: /kernel panicked: sysrq triggered crash/,
  },
};

export function deathSuite(names = Object.keys(DEATHS)) {
  const tests = names.map((n) => `test(${JSON.stringify(n)}, function(t)\n  local vm = provium:vm("d", "minimal"):boot()\n  ${DEATHS[n]!.body}\nend)`);
  return suite({
    "1-deaths.test.lua": tests.join("\n\n") + "\n",
    "2-after.test.lua": `local vm = provium:vm("after", "minimal"):boot()\ntest("the next file passes", function(t) t:assert_eq(vm:run("echo ok").stdout, "ok\\n") end)\n`,
  });
}

/** Runs the suite; the harness SIGKILLs the newest QEMU when a test prints KILL-QEMU-NOW. */
export async function runDeaths(names?: string[]) {
  const dir = deathSuite(names);
  return provium(dir, ["-j", "1", "--timeout", "180s", "."], {
    kill: {
      when: (e) => e.kind === "log" && String(e.message).includes(KILL_QEMU),
      delayMs: 300,
      signal: "SIGKILL",
      target: (_e, events) => events.filter((x) => x.kind === "vm_spawned").at(-1).pid,
    },
  });
}

export async function deaths(o: { rounds: number }): Promise<AttackResult[]> {
  const r = newRow("deaths mid-op (QEMU, agent, kernel panic)");
  for (let round = 0; round < o.rounds; round++) {
    const run = await runDeaths();
    r.peakMiB = Math.max(r.peakMiB, run.peakRssMiB);
    for (const [name, { names }] of Object.entries(DEATHS)) {
      r.tries++;
      const e = run.events.find((x) => x.test === name && (x.kind === "test_failed" || x.kind === "test_passed"));
      if (!e) {
        r.hangs++;
        r.notes.push(`${name}: no result (the file was cut short?)`);
      } else if (e.kind === "test_failed" && names.test(e.reason) && e.reason.includes("last lines of the guest console")) r.namedFailures++;
      else r.notes.push(`${name}: ${e.kind} ${String(e.reason ?? "").split("\n")[0]}`);
    }
    r.tries++;
    if (run.events.some((x) => x.kind === "test_passed" && x.test === "the next file passes")) r.namedFailures++;
    else r.notes.push("the file after the deaths did not pass");
    await countLeftovers(r, run.pid);
  }
  return [r];
}
