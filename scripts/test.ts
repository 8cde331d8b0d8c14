// The project's test command: generated-code check, unit and integration tests (`bun test`,
// which boot real guests where guest behaviour is tested), then the Lua guest suites run
// by provium itself. Ends with one line "N passed, N failed" over all of them.
import { resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
let passed = 0;
let failed = 0;
// What failed, repeated at the end: CI keeps only the tail of the output.
const failures: string[] = [];
const FAILURE_LINE = /^(\(fail\) .*|✗ .*|.*error TS\d+.*)$/gm;

async function step(name: string, cmd: string[], count: (out: string) => [number, number]) {
  console.log(`\n=== ${name}: ${cmd.join(" ")}`);
  const p = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, FORCE_COLOR: "0" } });
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>, to: NodeJS.WriteStream) => {
    for await (const chunk of s) {
      const text = new TextDecoder().decode(chunk);
      out += text;
      to.write(text);
    }
  };
  await Promise.all([pump(p.stdout, process.stdout), pump(p.stderr, process.stderr), p.exited]);
  const [ok, bad] = count(out);
  // A step that failed without reporting a failed test still counts as one failure.
  const extra = p.exitCode !== 0 && bad === 0 ? 1 : 0;
  const lines = out.match(FAILURE_LINE) ?? [];
  failures.push(...lines.map((l) => `${name}: ${l}`));
  if (extra && !lines.length) failures.push(`${name}: exit ${p.exitCode} (see its output above)`);
  passed += ok;
  failed += bad + extra;
  console.log(`=== ${name}: ${ok} passed, ${bad + extra} failed (exit ${p.exitCode})`);
}

const bunCounts = (out: string): [number, number] => [
  Number(out.match(/^\s*(\d+) pass$/m)?.[1] ?? 0),
  Number(out.match(/^\s*(\d+) fail$/m)?.[1] ?? 0),
];
const proviumCounts = (out: string): [number, number] => {
  const m = out.match(/^(\d+) passed, (\d+) failed/m);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
};

await step("generated code", ["bun", "libs/protocol/scripts/gen.ts", "--check"], (out) => (out.includes("up to date") ? [1, 0] : [0, 1]));
// Bun runs TypeScript without checking it: the whole workspace is type-checked once here.
await step("typecheck", ["bun", "run", "typecheck"], (out) => (/error TS\d+/.test(out) ? [0, 1] : [1, 0]));
// Tests that boot guests set their own timeouts; this is the ceiling for the rest under load.
await step("bun test", ["bun", "test", "--timeout", "60000"], bunCounts);
// On the CLI's defaults (4 vCPUs a core since TCG guests mostly idle between ops), as users run it.
await step("guest suites", ["bun", "apps/cli/src/main.ts", "tests/", "examples/"], proviumCounts);

if (failures.length) console.log(`\nFailed:\n${failures.map((f) => `  ${f}`).join("\n")}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
