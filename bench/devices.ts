// What the device ops of issue 16 cost (`bun bench/devices.ts`): reset to agent-ready against
// a cold boot, attach_disk (until the guest sees it), fault_inject/clear_faults, detach, the
// power button, a console write echoed by a shell on ttyS0. Through GuestVm, as tests run them.
import { bootGuest } from "./guest";
import { fmt, stats } from "./stats";

const N = Number(process.env.DEVICES_N ?? 5);
const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

const g = await bootGuest("devices");
const boots = [g.bootMs];
const resets: number[] = [];
for (let i = 0; i < N; i++) {
  const b = await bootGuest(`cold${i}`);
  boots.push(b.bootMs);
  await b.vm.shutdown();
  resets.push(await time(() => g.vm.reset(120_000)));
}
const attach: number[] = [], fault: number[] = [], clear: number[] = [], detach: number[] = [];
for (let i = 0; i < N * 2; i++) {
  attach.push(await time(() => g.vm.disks.attach({ size: "64M", id: `b${i}` })));
  fault.push(await time(() => g.vm.disks.fault(`b${i}`, "eio_read")));
  clear.push(await time(() => g.vm.disks.get(`b${i}`).disk.clear()));
  detach.push(await time(() => g.vm.disks.detach(`b${i}`)));
}
await g.vm.ready().call({ exec: { argv: ["/bin/sh", "-c", "setsid sh -c 'exec sh -i </dev/ttyS0 >/dev/ttyS0 2>&1' </dev/null >/dev/null 2>&1 &"] } });
const con = g.vm.machine().console;
const echo: number[] = [];
for (let i = 0; i < N * 4; i++) {
  echo.push(
    await time(async () => {
      const seen = new Promise<void>((resolve) => {
        let text = "";
        const off = con.subscribe((c) => {
          text += Buffer.from(c).toString();
          if (text.includes(`E-${i + 1}-`)) off(), resolve();
        });
      });
      await con.write(`echo E-$((${i} + 1))-\n`);
      await seen;
    }),
  );
}
const power = await time(() => g.vm.powerButton(30_000));
console.log(`accel ${g.accel}, minimal profile, ms (median p10 p90 n):`);
for (const [name, s] of [["cold boot -> agent", boots], ["reset -> agent", resets], ["attach_disk 64M (guest sees it)", attach], ["fault_inject eio_read", fault], ["clear_faults", clear], ["detach", detach], ["console write -> shell echo", echo]] as const)
  console.log(`${name.padEnd(34)} ${fmt(stats(s as number[]))}`);
console.log(`${"power_button -> shutdown".padEnd(34)} ${power.toFixed(0)}`);
process.exit(0);
