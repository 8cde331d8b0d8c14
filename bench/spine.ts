// Cold boot to agent-ready, and the run("true") round trip at the protocol level.
import { bootGuest } from "./guest";
import { fmt, stats, sample } from "./stats";

const BOOTS = Number(process.env.BOOTS ?? 20);
const RUNS = Number(process.env.RUNS ?? 50);

const boots: number[] = [];
for (let i = 0; i < BOOTS; i++) {
  const g = await bootGuest(`boot${i}`);
  boots.push(g.bootMs);
  await g.vm.shutdown();
}
console.log(`cold boot to agent ready:  ${fmt(stats(boots))}`);

const g = await bootGuest("rt");
const exec = (argv: string[]) => g.agent.call({ exec: { argv } });
console.log(`run("true") round trip:    ${fmt(await sample(RUNS, () => exec(["/bin/sh", "-c", "true"])))}`);
console.log(`exec true (no shell):      ${fmt(await sample(RUNS, () => exec(["true"])))}`);
console.log(`agent stats (no process):  ${fmt(await sample(RUNS, () => g.agent.call({ stats: true })))}`);
await g.vm.shutdown();
