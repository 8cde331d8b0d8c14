// What a kernel line printed on the serial console costs a guest (docs/debugging.md, "Console
// excerpts"): 200 lines of 100 characters written to /dev/kmsg at level 4 (printed: the console
// shows warnings) against level 6 (logged, not printed), in one booted `minimal` guest.
import { bootGuestVm } from "@provium/test-kit";
import { builtinProfiles } from "@provium/host-runtime";

const LINES = 200;
const { vm } = await bootGuestVm(builtinProfiles.minimal!, "console-print");
const agent = vm.ready();
const line = "x".repeat(100);
for (let round = 0; round < 3; round++) {
  for (const level of [4, 6]) {
    const t = performance.now();
    await agent.request({ exec: { argv: ["/bin/sh", "-c", `i=0; while [ $i -lt ${LINES} ]; do echo "<${level}>${line}" > /dev/kmsg; i=$((i+1)); done`] } });
    const ms = performance.now() - t;
    console.log(`level ${level} (${level < 5 ? "printed" : "not printed"}): ${LINES} lines in ${ms.toFixed(0)} ms, ${((ms * 1000) / LINES).toFixed(0)} us a line`);
  }
}
await vm.shutdown();
