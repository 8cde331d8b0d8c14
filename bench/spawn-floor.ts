// What a process start costs inside the guest, the way busybox does it and the ways a Bun
// process can: run in a `minimal` guest with the agent's own Bun by
//   bun bench/in-guest.ts bench/spawn-floor.ts [ROUNDS]
// Rows (medians over interleaved rounds, ms per start of `sh -c true`, or of `/bin/true` for
// the busybox loop, which is what the bench's floor row starts):
//   busybox loop   busybox sh starting /bin/true 20 times in a loop, per start (the floor's way)
//   posix_spawn    bun:ffi posix_spawn + a blocking waitpid: the least a Bun process can do
//   Bun.spawn      Bun.spawn + await exited, no pipes
//   agent exec()   the agent's own exec(): pipes, poll timer, exit through Bun's event loop
import { dlopen, FFIType, ptr } from "bun:ffi";
import { exec } from "@provium/agent";
import { stats } from "./stats";

const ROUNDS = Number(process.argv[2] ?? 30);
const LOOP = 20;

const c = dlopen("libc.so.6", {
  posix_spawn: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
}).symbols;

/** A NULL-terminated char*[] for `strings`; the buffers are kept alive with it. */
function cArray(strings: string[]) {
  const bufs = strings.map((s) => Buffer.from(s + "\0"));
  const arr = new BigUint64Array(strings.length + 1);
  bufs.forEach((b, i) => (arr[i] = BigInt(ptr(b))));
  return { arr, bufs };
}

const argv = cArray(["sh", "-c", "true"]);
const envp = cArray(Object.entries(process.env).map(([k, v]) => `${k}=${v}`));
const path = Buffer.from("/bin/sh\0");
const pidOut = new Int32Array(1);
const status = new Int32Array(1);

function ffiSpawn() {
  const rc = c.posix_spawn(pidOut, ptr(path), null, null, argv.arr, envp.arr);
  if (rc !== 0) throw new Error(`posix_spawn: errno ${rc}`);
  if (c.waitpid(pidOut[0]!, status, 0) !== pidOut[0]) throw new Error("waitpid failed");
}

/** `sh -c script` through Bun.spawn, no pipes, to its exit. */
const sh = (script: string) => Bun.spawn(["/bin/sh", "-c", script], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited;

async function timed(fn: () => unknown) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function busyboxLoop() {
  // The loop with /bin/true less the same loop without it: the starts alone.
  const empty = await timed(() => sh(`i=0; while [ $i -lt ${LOOP} ]; do i=$((i+1)); done`));
  const full = await timed(() => sh(`i=0; while [ $i -lt ${LOOP} ]; do /bin/true; i=$((i+1)); done`));
  return (full - empty) / LOOP;
}

async function agentExec() {
  const r = await exec({ argv: ["/bin/sh", "-c", "true"] } as never);
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}`);
}

// Each way's time per start of one round; the busybox loop is the first, and the floor.
const ways: [string, () => Promise<number>][] = [
  ["busybox loop", busyboxLoop],
  ["posix_spawn", () => timed(ffiSpawn)],
  ["Bun.spawn", () => timed(() => sh("true"))],
  ["agent exec()", () => timed(agentExec)],
];
const rows = new Map<string, number[]>(ways.map(([name]) => [name, []]));
for (let i = 0; i < 3; i++) for (const [, way] of ways) await way(); // untimed first
for (let r = 0; r < ROUNDS; r++) for (const [name, way] of ways) rows.get(name)!.push(await way());
const floor = stats(rows.get("busybox loop")!).median;
for (const [name, xs] of rows) {
  const s = stats(xs);
  console.log(`${name.padEnd(13)} ${s.median.toFixed(2).padStart(7)} ms  [p10 ${s.p10.toFixed(2)}, p90 ${s.p90.toFixed(2)}]  ${(s.median / floor).toFixed(2)}x the busybox loop`);
}
