// Runs a script inside a `minimal` guest with the agent's own Bun, for profiling what the agent
// does under the guest's conditions (TCG here): `bun bench/in-guest.ts path/to/script.ts [args]`.
// The script is bundled (workspace imports included), written into the guest, and run as
// `BUN_BE_BUN=1 /provium/agent script.js args` (through the agent's own loader, as init starts
// it); its output is printed. IN_GUEST_PROFILE=1 adds Bun's --cpu-prof-md and prints the
// profile (the guest's own view of where the time goes).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bootGuest } from "./guest";

const [script, ...args] = process.argv.slice(2);
if (!script) throw new Error("usage: bun bench/in-guest.ts script.ts [args]");
const dir = mkdtempSync(join(tmpdir(), "provium-in-guest-"));
const { vm, agent } = await bootGuest("in-guest");
try {
  const built = await Bun.build({ entrypoints: [resolve(script)], target: "bun", outdir: dir });
  if (!built.success) throw new AggregateError(built.logs, "bundling failed");
  const data = new Uint8Array(readFileSync(built.outputs[0]!.path));
  await agent.request({ files: { writeFile: { path: "/tmp/script.js", data } } });
  // JSC options given to this script go to the guest's Bun too (BUN_JSC_<option>=value).
  const jscOptions = Object.entries(process.env).filter(([k]) => k.startsWith("BUN_JSC_")).map(([name, value]) => ({ name, value: value! }));
  const profile = process.env.IN_GUEST_PROFILE ? ["--cpu-prof-md", "--cpu-prof-dir=/tmp/prof", "--cpu-prof-interval=200"] : [];
  const r = await agent.call({
    exec: { argv: ["/provium/lib/ld.so", "--library-path", "/provium/lib", "--argv0", "/provium/agent", "/provium/agent", ...profile, "/tmp/script.js", ...args], env: [{ name: "BUN_BE_BUN", value: "1" }, ...jscOptions], timeoutMs: 600_000 },
  });
  process.stdout.write(r.stdout ?? new Uint8Array());
  process.stderr.write(r.stderr ?? new Uint8Array());
  if (r.exitCode !== 0) process.exitCode = 1;
  if (profile.length) {
    const md = await agent.call({ exec: { argv: ["/bin/sh", "-c", "cat /tmp/prof/*"] } });
    process.stdout.write(md.stdout ?? new Uint8Array());
  }
} finally {
  await vm.shutdown();
  rmSync(dir, { recursive: true, force: true });
}
