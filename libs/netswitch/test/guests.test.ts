// Real guests (QEMU, TCG) on the switch through libs/vmm: the NIC configured before the agent
// answers, ping both ways, a one-way partition, link down/up via QMP set_link, the uplink.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { liveVms, type GuestImage } from "@provium/vmm";
import { parseSubnet, Switch, Uplink } from "../src/index";
import { sharedKernel, ShellGuest, SHELL_AGENT } from "@provium/test-kit";
import { ensureImage, NET_MODULES } from "@provium/vmm";

let dir: string;
let sw: Switch;
let a: ShellGuest;
let b: ShellGuest;
const subnet = parseSubnet("10.0.9.0/24");

async function boot(image: GuestImage, name: string, mac: string, address: string): Promise<ShellGuest> {
  const socket = sw.addPort(name);
  return ShellGuest.boot({ name, kernel: image.kernel, initrd: image.initrd, memoryMiB: 192, cpus: 1, accel: "tcg", nics: [{ id: "n0", socket, mac, address }] });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "nsw-vm-"));
  sw = new Switch(path.join(dir, "sw"));
  const k = await sharedKernel();
  const image = await ensureImage({ cacheDir: dir, kernel: k.kernel, moduleDir: k.moduleDir, injectAgent: true, agentBinary: SHELL_AGENT, extraModules: NET_MODULES });
  [a, b] = await Promise.all([boot(image, "a", "52:54:00:09:00:01", "10.0.9.1/24"), boot(image, "b", "52:54:00:09:00:02", "10.0.9.2/24")]);
}, 300_000);

afterAll(async () => {
  await Promise.all([a?.shutdown(), b?.shutdown()]);
  for (const vm of liveVms()) await vm.shutdown({ graceMs: 0 });
  sw?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("guests on the switch", () => {
  test("the NIC is up with its address by the time the agent answers", async () => {
    // The first command the agent runs: nothing configured it but guest-init.
    const out = await a.ok("ip -o addr show; ip link show eth0; cat /sys/class/net/eth0/carrier /sys/class/net/eth0/address");
    expect(out).toContain("inet 10.0.9.1/24");
    expect(out).toMatch(/eth0: <[A-Z_,-]*\bUP\b[A-Z_,-]*> mtu 1500 qdisc (?!noop)/); // up, with a queue that sends
    expect(out).toMatch(/\n1\n52:54:00:09:00:01$/); // carrier
  }, 30_000);

  test("two guests ping each other through the switch, and the counters see it", async () => {
    const before = sw.counters("a");
    await a.ok("ping -c 3 -W 5 10.0.9.2", 60_000);
    await b.ok("ping -c 3 -W 5 10.0.9.1", 60_000);
    const after = sw.counters("a");
    expect(after.tx_packets - before.tx_packets).toBeGreaterThanOrEqual(6); // 3 requests + 3 replies (+ ARP)
    expect(after.rx_packets - before.rx_packets).toBeGreaterThanOrEqual(6);
  }, 120_000);

  test("a one-way partition a -> b: b's frames reach a, a's never reach b", async () => {
    await a.ok("ping -c 1 -W 5 10.0.9.2"); // ARP warm
    sw.impairments.partition("a", "b");
    try {
      const bRx = sw.counters("b").rx_packets;
      const aRx = sw.counters("a").rx_packets;
      const r = await b.run("ping -c 3 -W 1 10.0.9.1", 30_000);
      expect(r.out).toContain("100% packet loss"); // the replies are cut
      expect(sw.counters("a").rx_packets - aRx).toBeGreaterThanOrEqual(3); // the requests got through
      expect(sw.counters("b").rx_packets).toBe(bRx);
    } finally {
      sw.impairments.unpartition("a", "b");
    }
    await b.ok("ping -c 1 -W 5 10.0.9.1");
  }, 60_000);

  test("QMP set_link down is carrier loss in the guest; up brings it back", async () => {
    await a.vm.qmp.execute("set_link", { name: "n0", up: false });
    expect((await a.ok("sleep 0.3; cat /sys/class/net/eth0/carrier")).trim()).toBe("0");
    expect(await a.ok("ip link show eth0")).toContain("NO-CARRIER");
    await a.vm.qmp.execute("set_link", { name: "n0", up: true });
    expect((await a.ok("sleep 0.3; cat /sys/class/net/eth0/carrier")).trim()).toBe("1");
    await a.ok("ping -c 1 -W 5 10.0.9.2");
  }, 60_000);

  test("the uplink: the gateway answers and a host server on 127.0.0.1 is reached through it", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello from the host\n") });
    const up = await Uplink.start(sw, subnet);
    try {
      await a.ok("ip route add default via 10.0.9.254");
      await a.ok("ping -c 1 -W 5 10.0.9.254");
      expect(await a.ok(`wget -q -O - http://10.0.9.254:${server.port}/`)).toBe("hello from the host");
    } finally {
      up.stop();
      server.stop(true);
      await a.run("ip route del default");
    }
    expect(sw.portNames()).toEqual(["a", "b"]);
  }, 60_000);
});
