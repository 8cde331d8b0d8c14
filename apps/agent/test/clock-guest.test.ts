// The clock op and a reset, on a real `minimal` guest with the real agent (booted through
// libs/vmm, spoken to with libs/protocol): guest time really moves, and after a hard reset a
// fresh agent connection answers on the same QEMU. The host is never asked to change its own
// clock: these ops only ever run in the guest.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { QemuVm, resetMachine, type BootImage } from "@provium/vmm";
import { connectAgent, GuestError, type AgentClient } from "@provium/protocol";
import { imageOf } from "@provium/test-kit";

let image: BootImage;
let vm: QemuVm;
let agent: AgentClient;

async function connect(v: QemuVm): Promise<AgentClient> {
  const a = await connectAgent(v.agentSocket, () => {});
  await a.hello();
  return a;
}

async function guestText(cmd: string) {
  const r = await agent.call({ exec: { argv: ["/bin/sh", "-c", cmd] } });
  return new TextDecoder().decode(r.stdout);
}

beforeAll(async () => {
  image = await imageOf({ name: "minimal", cmdline: "", injectAgent: true, origin: "clock-guest.test" });
  const t0 = performance.now();
  vm = await QemuVm.launch({ name: "clock", kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline, drives: image.drives, memoryMiB: 256, cpus: 1, accel: "tcg" });
  agent = await connect(vm);
  console.error(`[measure] cold boot -> agent hello: ${(performance.now() - t0).toFixed(0)} ms`);
}, 300_000);
afterAll(async () => {
  agent?.close(new Error("test over"));
  await vm?.shutdown({ graceMs: 0 });
});

const S = 1_000_000_000n;
const big = (v: number | bigint | undefined) => BigInt(v ?? 0);
const ns = (v: bigint) => v as unknown as number; // Int64 is typed number; the codec takes a bigint exactly

test("clock: get, set and advance move the guest's wall clock (date agrees), to the ns", async () => {
  const host = BigInt(Date.now()) * 1_000_000n;
  const got = big((await agent.call({ clock: { get: true } })).nowNs);
  expect(got > host - 600n * S && got < host + 600n * S).toBe(true); // the guest's RTC follows the host's

  const target = 2_000_000_000n * S + 123_456_789n;
  const set = big((await agent.call({ clock: { set: ns(target) } })).nowNs);
  expect(set >= target && set < target + 5n * S).toBe(true);
  const date = BigInt((await guestText("date +%s")).trim());
  expect(date >= 2_000_000_000n && date < 2_000_000_010n).toBe(true);

  const before = big((await agent.call({ clock: { get: true } })).nowNs);
  const after = big((await agent.call({ clock: { advance: ns(3600n * S) } })).nowNs);
  const moved = after - before;
  expect(moved >= 3600n * S && moved < 3605n * S).toBe(true);
  expect(BigInt((await guestText("date +%s")).trim()) >= 2_000_003_600n).toBe(true);
}, 60_000);

test("clock: a time before 1970 is refused by the agent with EINVAL", async () => {
  const err = await agent.call({ clock: { set: -5 } }).catch((e) => e);
  expect(err).toBeInstanceOf(GuestError);
  expect(err.message).toContain("before 1970");
});

test("reset: the guest reboots (new boot_id) and a fresh agent connection answers on the same QEMU", async () => {
  const before = await guestText("cat /proc/sys/kernel/random/boot_id");
  const pid = vm.pid;
  const t0 = performance.now();
  await resetMachine(vm, async () => {
    agent.close(new Error("reset"));
    agent = await connect(vm);
  });
  console.error(`[measure] reset -> agent hello: ${(performance.now() - t0).toFixed(0)} ms`);
  expect(vm.pid).toBe(pid);
  const after = await guestText("cat /proc/sys/kernel/random/boot_id");
  expect(after).toMatch(/^[0-9a-f-]{36}\n$/);
  expect(after).not.toBe(before);
}, 120_000);
