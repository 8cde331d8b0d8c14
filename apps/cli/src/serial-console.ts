// `provium console PROFILE`: the raw serial console of a fresh VM in the terminal. A root
// shell is started on ttyS0 (as a getty would be), the boot log is shown, then keys go to the
// guest byte for byte until Ctrl-] (as telnet). Runs on the host ops a test's console uses.
import pc from "picocolors";
import type { AccelRequest } from "@provium/vmm";
import { agentEntry } from "@provium/agent";
import { hostSetup, openSession } from "@provium/host-runtime";
import { loadRunConfig } from "./run";
import { requireHost } from "./host-checks";

const CTRL_RIGHT_BRACKET = 0x1d;
// Written through before going on: process.exit must not cut a pipe's last bytes.
const out = (data: Uint8Array) => new Promise<void>((resolve) => process.stdout.write(data, () => resolve()));
const GETTY = "setsid sh -c 'exec sh -i </dev/ttyS0 >/dev/ttyS0 2>&1' </dev/null >/dev/null 2>&1 &";

export async function serialConsole(o: { profile: string; config?: string; accel?: string }) {
  const config = loadRunConfig(o.config);
  const profile = config.profiles[o.profile];
  requireHost(config, profile ? [profile] : undefined);
  const host = await hostSetup(config, { agentEntry, accel: o.accel as AccelRequest | undefined });
  const session = openSession(host, "console", { onProgress: (m) => console.error(pc.dim(`… ${m}`)) });
  const call = (op: string, args: object) => session.handle(op, args) as Promise<any>;
  const stdin = process.stdin;
  let done = false;
  const leave = () => {
    if (done) return;
    done = true;
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  };
  try {
    const vm = await call("vm.create", { name: "console", profile: o.profile });
    await call("vm.boot", { vms: [vm] });
    await call("guest", { target: { vm }, op: "run", args: { cmd: { argv: ["/bin/sh", "-c", GETTY] } } });
    const handle = await call("console.open", { vm });
    await out(await call("console.log", { vm }));
    process.stderr.write(pc.dim(`\n--- serial console of a ${o.profile} VM (Ctrl-] leaves) ---\n`));
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on("data", (d: Buffer) => {
      const quit = d.indexOf(CTRL_RIGHT_BRACKET);
      const keys = quit >= 0 ? d.subarray(0, quit) : d;
      if (keys.length) void call("console.write", { vm, data: new Uint8Array(keys) }).catch(() => {});
      if (quit >= 0) leave();
    });
    stdin.on("end", leave);
    process.on("SIGINT", leave);
    // The guest's output until Ctrl-] or the guest ends, then a last look for what the last keys made it print.
    for (;;) {
      const leaving = done;
      const r = await call("console.read", { handle, timeout_ms: leaving ? 1000 : 200 });
      if (r.data.length) await out(r.data);
      if (r.eof) process.stderr.write(pc.dim("\n--- the VM ended ---\n"));
      if (r.eof || leaving) break;
    }
  } finally {
    leave();
    await session.close();
  }
  process.exit(0);
}
