// The host side of bridges without guests: NICs handed to VMs before boot (MAC, address,
// socket), addresses, rules by VM, captures, and what it refuses. Guests: tests/networks/.
import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { Bridges } from "../src/bridges";

type FakeVm = { spec: { name: string; nics?: any[] }; state: string };
let vms: FakeVm[];
let nets: Bridges;
const registry = { get: (id: unknown) => vms[Number(id)] ?? (() => { throw new Error(`no such vm (id ${id})`); })() } as any;

function setup(...names: string[]) {
  vms = names.map((name) => ({ spec: { name }, state: "created" }));
  nets = new Bridges(registry);
}
afterEach(() => nets.close());

describe("bridges (host side)", () => {
  test("attach gives each VM a NIC on a listening port, a MAC and the next address; a second bridge its own subnet", async () => {
    setup("a", "b");
    const lan = nets.create({ name: "lan" });
    const san = nets.create({ name: "san", subnet: "192.168.7.9/24" });
    expect([lan, san]).toEqual([{ id: 0, subnet: "10.0.1.0/24" }, { id: 1, subnet: "192.168.7.0/24" }]);
    await nets.attach({ bridge: 0, vms: [0, 1] });
    await nets.attach({ bridge: 1, vms: [1] });
    await nets.attach({ bridge: 0, vms: [1] }); // a member again: nothing changes
    const [a, b] = vms;
    expect(a!.spec.nics!.map((n) => ({ ...n, socket: fs.statSync(n.socket).isSocket() }))).toEqual([{ id: "br1", mac: "52:54:00:01:00:01", address: "10.0.1.1/24", socket: true }]);
    expect(b!.spec.nics!.map((n) => [n.id, n.mac, n.address])).toEqual([
      ["br1", "52:54:00:01:00:02", "10.0.1.2/24"],
      ["br2", "52:54:00:02:00:01", "192.168.7.1/24"],
    ]);
    expect([nets.ip({ vm: 1 }), nets.ip({ vm: 1, bridge: 1 }), nets.gateway({ bridge: 1 })]).toEqual(["10.0.1.2", "192.168.7.1", "192.168.7.254"]);
    expect(nets.counters({ bridge: 0, vm: 0 })).toEqual({ rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, dropped: 0 });
  });

  test("detach before boot takes the NIC away and frees the port", async () => {
    setup("a");
    nets.create({ name: "lan" });
    await nets.attach({ bridge: 0, vms: [0] });
    const socket = vms[0]!.spec.nics![0].socket;
    await nets.detach({ bridge: 0, vm: 0 });
    expect(vms[0]!.spec.nics).toEqual([]);
    expect(fs.existsSync(socket)).toBe(false);
    expect(nets.ip({ vm: 0 })).toBeNull();
  });

  test("the sockets live in an owned temp dir that close() removes", async () => {
    setup("a");
    nets.create({ name: "lan" });
    await nets.attach({ bridge: 0, vms: [0] });
    const dir = path.dirname(path.dirname(vms[0]!.spec.nics![0].socket));
    expect(path.basename(dir)).toStartWith(`provium-net-p${process.pid}-`); // the sweep knows its owner
    nets.close();
    expect(fs.existsSync(dir)).toBe(false);
  });

  test("what it refuses, and how it says so", async () => {
    setup("a", "b", "c");
    nets.create({ name: "lan" });
    expect(() => nets.create({ name: "lan" })).toThrow("bridge name 'lan' is already used in this file");
    expect(() => nets.create({ name: "x", subnet: "10.1.0.0/31" })).toThrow('subnet must look like "10.0.1.0/24" (prefix 8 to 29), got "10.1.0.0/31"');
    vms[2]!.state = "booted";
    await expect(nets.attach({ bridge: 0, vms: [0, 2] })).rejects.toThrow("bridge lan: vm c is already booted; attach VMs before they boot (a NIC is not hot-plugged)");
    expect(vms[0]!.spec.nics).toBeUndefined(); // nothing attached when one of them is refused
    await nets.attach({ bridge: 0, vms: [0] });
    expect(() => nets.partition({ bridge: 0, from: 0, to: 1, on: true })).toThrow("vm b is not attached to bridge lan");
    expect(() => nets.impair({ bridge: 0, from: 0, rule: { delayMs: 1 } } as any)).toThrow("bridge lan: give both from and to, or neither");
    expect(() => nets.impair({ bridge: 0, rule: { dropRate: 2 } })).toThrow("drop rate must be a probability from 0 to 1, got 2");
    expect(() => nets.ip({ vm: 1, bridge: 0 })).toThrow("vm b is not attached to bridge lan");
    await expect(nets.nextFrames({ capture: 99, timeout: 0 })).rejects.toThrow("capture is closed");
  });

  test("save/load carry the rules and who is plugged in", async () => {
    setup("a", "b");
    nets.create({ name: "lan" });
    await nets.attach({ bridge: 0, vms: [0, 1] });
    nets.partition({ bridge: 0, from: 0, to: 1, on: true });
    nets.impair({ bridge: 0, rule: { delayMs: 7 } });
    const saved = nets.save({ bridges: [0] });
    nets.all({ bridge: 0, what: "reset" });
    expect(nets.save({ bridges: [0] })[0]!.switch.impairments.blocked).toEqual([]);
    await nets.load({ states: saved });
    expect(nets.save({ bridges: [0] })).toEqual(saved);
    expect(saved[0]!.switch.impairments).toMatchObject({ all: { delayMs: 7 }, blocked: [["a", "b"]] });
  });
});
