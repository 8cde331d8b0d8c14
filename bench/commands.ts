// Running commands, at the host-op level (the requests and reply shaping the runner uses,
// without the Lua bridge): run("true"), run_async + wait, and a batch of 100 ops against
// 100 single ops. Prints medians (ms). RUNS sets the samples per figure.
import { bootGuest } from "./guest";
import { sh as shell } from "./provium";
import { fmt, sample } from "./stats";

const RUNS = Number(process.env.RUNS ?? 30);
const BATCH = 100;

const g = await bootGuest("commands");
const call = g.driver.call.bind(g.driver);
const batch = g.driver.batch.bind(g.driver);
const run = "run";
const census = "agent_census";

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
      const p: any = await call("run_async", shell("true"));
      await call("process_wait", { handle: p.handle });
      await call("process_close", { handle: p.handle });
    }),
  ),
);
line(`${BATCH} x run("true"), one by one:`, fmt(await sample(few, times(BATCH, () => call(run, shell("true"))), 1)));
line(`${BATCH} x run("true"), one batch:`, fmt(await sample(few, () => batch(Array.from({ length: BATCH }, (): [typeof run, unknown] => [run, shell("true")])), 1)));
line(`${BATCH} x census, one by one:`, fmt(await sample(few, times(BATCH, () => call(census, {})), 1)));
line(`${BATCH} x census, one batch:`, fmt(await sample(few, () => batch(Array.from({ length: BATCH }, (): [typeof census, unknown] => [census, {}])), 1)));
await g.vm.shutdown();
