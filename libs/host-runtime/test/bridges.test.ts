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
    await nets.attach({ bridge: 0, members: [0, 1] });
    await nets.attach({ bridge: 1, members: [1] });
    await nets.attach({ bridge: 0, members: [1] }); // a member again: nothing changes
    const [a, b] = vms;
    expect(a!.spec.nics!.map((n) => ({ ...n, socket: fs.statSync(n.socket).isSocket() }))).toEqual([{ id: "br1", mac: "52:54:00:01:00:01", address: "10.0.1.1/24", socket: true }]);
    expect(b!.spec.nics!.map((n) => [n.id, n.mac, n.address])).toEqual([
      ["br1", "52:54:00:01:00:02", "10.0.1.2/24"],
      ["br2", "52:54:00:02:00:01", "192.168.7.1/24"],
    ]);
    expect([nets.ip({ vm: 1 }), nets.ip({ vm: 1, bridge: 1 }), nets.gateway({ bridge: 1 })]).toEqual(["10.0.1.2", "192.168.7.1", "192.168.7.254"]);
    expect(nets.counters({ bridge: 0, member: 0 })).toEqual({ rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, dropped: 0, errors: 0 });
  });

  test("detach before boot takes the NIC away and frees the port", async () => {
    setup("a");
    nets.create({ name: "lan" });
    await nets.attach({ bridge: 0, members: [0] });
    const socket = vms[0]!.spec.nics![0].socket;
    await nets.detach({ bridge: 0, member: 0 });
    expect(vms[0]!.spec.nics).toEqual([]);
    expect(fs.existsSync(socket)).toBe(false);
    expect(nets.ip({ vm: 0 })).toBeNull();
  });

  test("the sockets live in an owned temp dir that close() removes", async () => {
    setup("a");
    nets.create({ name: "lan" });
    await nets.attach({ bridge: 0, members: [0] });
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
    await expect(nets.attach({ bridge: 0, members: ["x", 0, 2] })).rejects.toThrow("bridge lan: vm c is already booted; attach VMs before they boot (a NIC is not hot-plugged)");
    expect(vms[0]!.spec.nics).toBeUndefined(); // nothing attached when one of them is refused
    expect(nets.members({ bridge: 0 })).toEqual([]);
    await nets.attach({ bridge: 0, members: [0] });
    expect(() => nets.partition({ bridge: 0, a: 0, b: 1, on: true, one_way: true })).toThrow("partition: vm b is not attached to bridge lan (attached: a); attach it first");
    expect(() => nets.impair({ bridge: 0, op: "add_latency", from: 0, rule: { delayMs: 1 } } as any)).toThrow("add_latency: the directional form needs both from and to");
    expect(() => nets.impair({ bridge: 0, op: "drop_rate", rule: { dropRate: 2 } })).toThrow("drop rate must be a probability from 0 to 1, got 2");
    await expect(nets.readCapture({ capture: 99, timeout_ms: 0 })).resolves.toEqual({ data: new Uint8Array(0), eof: true });
    expect(() => nets.openCapture({ bridge: 0, member: 0 })).toThrow("nic:capture: vm a has no TAP on bridge lan (not booted?): boot it first");
    expect(() => nets.ip({ vm: 1, bridge: 0 })).toThrow("vm b is not attached to bridge lan");
    await expect(nets.nextFrames({ capture: 99, timeout: 0 })).rejects.toThrow("capture is closed");
  });

  test("members by name: names with no VM are members too, sorted, each once; detach takes their rules", async () => {
    setup("a");
    nets.create({ name: "lan" });
    await nets.attach({ bridge: 0, members: ["zed", 0, "b", "zed"] });
    expect(nets.members({ bridge: 0 })).toEqual(["a", "b", "zed"]);
    nets.partition({ bridge: 0, a: "b", b: "zed", on: true });
    nets.isolate({ bridge: 0, member: "zed", on: true });
    expect([nets.isPartitioned({ bridge: 0, a: "zed", b: "b" }), nets.isIsolated({ bridge: 0, member: "zed" })]).toEqual([true, true]);
    await nets.detach({ bridge: 0, member: "zed" });
    expect([nets.isPartitioned({ bridge: 0, a: "zed", b: "b" }), nets.isIsolated({ bridge: 0, member: "zed" })]).toEqual([false, false]);
    expect(nets.members({ bridge: 0 })).toEqual(["a", "b"]);
    expect(nets.counters({ bridge: 0, member: "b" })).toMatchObject({ tx_packets: 0, errors: 0 });
  });

  test("a released bridge frees its name and takes its NIC from VMs not booted", async () => {
    setup("a");
    nets.create({ name: "tmp" });
    await nets.attach({ bridge: 0, members: [0] });
    nets.dispose({ bridge: 0 });
    expect(vms[0]!.spec.nics).toEqual([]);
    expect(() => nets.members({ bridge: 0 })).toThrow("bridge tmp was released at the end of the test that made it");
    expect(nets.create({ name: "tmp" })).toMatchObject({ id: 1 });
  });

  test("a VM's NICs are in the order of their bridges' names (eth0 is the first)", async () => {
    setup("a");
    nets.create({ name: "wan" });
    nets.create({ name: "lan" });
    await nets.attach({ bridge: 0, members: [0] });
    await nets.attach({ bridge: 1, members: [0] });
    expect(nets.vmNics({ vm: 0 })).toEqual(["lan", "wan"]);
    expect(vms[0]!.spec.nics!.map((n) => n.id)).toEqual(["br2", "br1"]);
  });

  test("save/load carry the rules and who is plugged in", async () => {
    setup("a", "b");
    nets.create({ name: "lan" });
    await nets.attach({ bridge: 0, members: [0, 1] });
    nets.partition({ bridge: 0, a: 0, b: 1, on: true, one_way: true });
    nets.impair({ bridge: 0, op: "add_latency", rule: { delayMs: 7 } });
    nets.route({ bridge: 0, to: ["dmz"] });
    const saved = nets.save({ vms: [0] });
    nets.all({ bridge: 0, what: "reset" });
    nets.route({ bridge: 0, to: ["wan"] });
    expect(nets.save({ vms: [1] })[0]!.switch.impairments.blocked).toEqual([]);
    await nets.load({ states: saved });
    expect(nets.save({ vms: [0] })).toEqual(saved);
    expect(saved[0]!).toMatchObject({ routes: ["dmz"], switch: { impairments: { all: { delayMs: 7 }, blocked: [["a", "b"]] } } });
  });
});
