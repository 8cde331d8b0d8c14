// Running commands, at the host-op level (the requests and reply shaping the runner uses,
// without the Lua bridge): run("true"), run_async + wait, and a batch of 100 ops against
// 100 single ops. Prints medians (ms). RUNS sets the samples per figure.
import type { Op, Reply } from "@provium/protocol";
import { bootGuest } from "./guest";
import { fmt, sample } from "./stats";
import { execOps } from "../apps/cli/src/runner/ops/exec";
import { processOps } from "../apps/cli/src/runner/ops/process";
import type { GuestOp } from "../apps/cli/src/runner/ops/guest-op";

const RUNS = Number(process.env.RUNS ?? 30);
const BATCH = 100;

const g = await bootGuest("commands");
const ctx = { vm: g.vm, worker: 0 };
const shell = (cmd: string) => ({ cmd: { argv: ["/bin/sh", "-c", cmd] } });

async function call(op: GuestOp, args: any) {
  const r = await g.agent.request(op.request(args, ctx));
  if (r.error) throw new Error(r.error.message);
  return op.reply(r, args, ctx);
}

async function batch(items: [GuestOp, any][]) {
  const r: Reply = await g.agent.request({ batch: items.map(([op, args], i) => ({ id: i + 1, op: op.request(args, ctx) as Op })) });
  return Promise.all(r.batch!.map((sub, i) => items[i]![0].reply(sub, items[i]![1], ctx)));
}

const run = execOps.run!;
const census = processOps.agent_census!;

const line = (label: string, stats: string) => console.log(`${label.padEnd(34)}${stats}`);
const few = Math.max(3, Math.round(RUNS / 5));
const times = (n: number, fn: () => Promise<unknown>) => async () => {
  for (let i = 0; i < n; i++) await fn();
};

console.log(`accelerator: ${g.accel}`);
line(`run("true") round trip:`, fmt(await sample(RUNS, () => call(run, shell("true")))));
line(`run("true", direct exec):`, fmt(await sample(RUNS, () => call(run, { cmd: { argv: ["true"] } }))));
line(
  `run_async("true") + wait:`,
  fmt(
    await sample(RUNS, async () => {
      const p: any = await call(processOps.run_async!, shell("true"));
      await call(processOps.process_wait!, { handle: p.handle });
      await call(processOps.process_close!, { handle: p.handle });
    }),
  ),
);
line(`${BATCH} x run("true"), one by one:`, fmt(await sample(few, times(BATCH, () => call(run, shell("true"))), 1)));
line(`${BATCH} x run("true"), one batch:`, fmt(await sample(few, () => batch(Array.from({ length: BATCH }, () => [run, shell("true")])), 1)));
line(`${BATCH} x census, one by one:`, fmt(await sample(few, times(BATCH, () => call(census, {})), 1)));
line(`${BATCH} x census, one batch:`, fmt(await sample(few, () => batch(Array.from({ length: BATCH }, () => [census, {}])), 1)));
await g.vm.shutdown();
