// A test file's bridges: one userspace switch each (@provium/netswitch), owned by the runner
// worker that owns the file's VMs, its sockets in an owned temp dir that goes with the file.
// A VM attached before boot gets a NIC on the bridge's switch port, a MAC and a static address
// (guest-init configures it before the agent answers); rules, counters, captures and the
// uplink are the switch's.
import { LazyTempDir, type NicOptions } from "@provium/vmm";
import { FrameQueue, hostAddress, parseSubnet, uplinkAddresses, PcapSink, Switch, Uplink, type Impairment, type NicCounters, type Subnet, type SwitchState } from "@provium/netswitch";
import type { GuestVm } from "./guest";
import type { VmRegistry } from "./vm-registry";
import type { LabJsonBridge } from "./lab-json";

interface Member {
  vm: GuestVm;
  nic: NicOptions;
  /** false after detach() of a booted VM: its port is unplugged and its link down */
  attached: boolean;
}

interface Bridge {
  name: string;
  index: number;
  subnet: Subnet;
  sw: Switch;
  members: Map<GuestVm, Member>;
  hosts: number;
  uplink: Uplink | null;
}

interface Capture {
  queue: FrameQueue | null;
  pcap: PcapSink | null;
  stop: () => void;
}

/** What a lab snapshot keeps of a bridge. */
export interface BridgeState {
  bridge: number;
  switch: SwitchState;
  uplink: boolean;
}

/** A frame as Lua gets it from capture:next(). */
export interface LuaFrame {
  data: Uint8Array;
  from: string;
  to: string | null;
  time: number;
}

const MAX_BRIDGES = 200;

export class Bridges {
  private bridges: Bridge[] = [];
  private captures = new Map<number, Capture>();
  private nextCapture = 1;
  private readonly dir = new LazyTempDir("net", "/tmp"); // short: unix socket paths hold 107 bytes

  constructor(private readonly vms: VmRegistry) {}

  create(a: { name: string; subnet?: string }): { id: number; subnet: string } {
    const name = String(a.name);
    if (this.bridges.some((b) => b.name === name)) throw new Error(`bridge name '${name}' is already used in this file`);
    if (this.bridges.length >= MAX_BRIDGES) throw new Error(`at most ${MAX_BRIDGES} bridges a file`);
    const index = this.bridges.length + 1;
    const subnet = parseSubnet(a.subnet ?? `10.0.${index}.0/24`);
    const sw = new Switch(`${this.dir.path}/b${index}`);
    this.bridges.push({ name, index, subnet, sw, members: new Map(), hosts: 0, uplink: null });
    return { id: index - 1, subnet: subnet.cidr };
  }

  private get(id: unknown): Bridge {
    const b = this.bridges[Number(id)];
    if (!b) throw new Error(`no such bridge (id ${id})`);
    return b;
  }

  private member(b: Bridge, vmId: unknown): Member {
    const vm = this.vms.get(vmId);
    const m = b.members.get(vm);
    if (!m) throw new Error(`vm ${vm.spec.name} is not attached to bridge ${b.name}`);
    return m;
  }

  // A VM joins before it boots (its NIC is on QEMU's command line; hot-plug is not done). A
  // booted VM detached from this bridge is plugged back in.
  async attach(a: { bridge: number; vms: number[] }) {
    const b = this.get(a.bridge);
    const vms = a.vms.map((id) => this.vms.get(id));
    for (const vm of vms) {
      const m = b.members.get(vm);
      if (!m && vm.state !== "created")
        throw new Error(`bridge ${b.name}: vm ${vm.spec.name} is already ${vm.state}; attach VMs before they boot (a NIC is not hot-plugged)`);
    }
    for (const vm of vms) {
      const m = b.members.get(vm);
      if (m) {
        if (!m.attached) await this.plug(b, m, true);
        continue;
      }
      const n = ++b.hosts;
      const address = hostAddress(b.subnet, n);
      const nic: NicOptions = {
        id: `br${b.index}`,
        socket: b.sw.addPort(vm.spec.name),
        mac: ["52", "54", "00", b.index, n >> 8, n & 255].map((x) => x.toString(16).padStart(2, "0")).join(":"),
        address: `${address}/${b.subnet.prefix}`,
      };
      (vm.spec.nics ??= []).push(nic);
      b.members.set(vm, { vm, nic, attached: true });
    }
  }

  // Before boot the VM simply loses the NIC; after, the cable is pulled (port unplugged, link
  // down in the guest) and attach() plugs it back.
  async detach(a: { bridge: number; vm: number }) {
    const b = this.get(a.bridge);
    const m = this.member(b, a.vm);
    if (m.vm.state === "created") {
      m.vm.spec.nics = m.vm.spec.nics!.filter((n) => n !== m.nic);
      b.sw.removePort(m.vm.spec.name);
      b.members.delete(m.vm);
      return;
    }
    if (m.attached) await this.plug(b, m, false);
  }

  private async plug(b: Bridge, m: Member, on: boolean) {
    m.attached = on;
    b.sw.setPlugged(m.vm.spec.name, on);
    if (m.vm.state === "booted" || m.vm.state === "paused") await this.setLink(m, on);
  }

  private setLink(m: Member, up: boolean) {
    return m.vm.qemu!.qmp.execute("set_link", { name: m.nic.id, up });
  }

  /** nic:disconnect() / reconnect(): the guest sees its link go down / come up (QMP set_link). */
  async link(a: { bridge: number; vm: number; up: boolean }) {
    const m = this.member(this.get(a.bridge), a.vm);
    m.vm.ready();
    await this.setLink(m, !!a.up);
  }

  /** The guest's interface name for a NIC is not known to the host; its MAC and address are. */
  nicInfo(a: { bridge: number; vm: number }): { mac: string; address: string; netdev: string } {
    const m = this.member(this.get(a.bridge), a.vm);
    return { mac: m.nic.mac, address: m.nic.address!.split("/")[0]!, netdev: m.nic.id };
  }

  /** vm:ip(bridge?): its address on that bridge, or on the first bridge it is attached to. */
  ip(a: { vm: number; bridge?: number }): string | null {
    const vm = this.vms.get(a.vm);
    const on = a.bridge != null ? [this.get(a.bridge)] : this.bridges;
    for (const b of on) {
      const m = b.members.get(vm);
      if (m) return m.nic.address!.split("/")[0]!;
    }
    if (a.bridge != null) throw new Error(`vm ${vm.spec.name} is not attached to bridge ${on[0]!.name}`);
    return null;
  }

  counters(a: { bridge: number; vm: number }): NicCounters {
    const b = this.get(a.bridge);
    return b.sw.counters(this.member(b, a.vm).vm.spec.name);
  }

  // from/to: VM ids, both attached; both omitted: every pair (whole-bridge settings).
  private pair(b: Bridge, from?: number, to?: number): [string, string] | [] {
    if (from == null && to == null) return [];
    if (from == null || to == null) throw new Error(`bridge ${b.name}: give both from and to, or neither`);
    return [this.member(b, from).vm.spec.name, this.member(b, to).vm.spec.name];
  }

  impair(a: { bridge: number; from?: number; to?: number; rule: Impairment }) {
    const b = this.get(a.bridge);
    const [from, to] = this.pair(b, a.from, a.to);
    b.sw.impairments.set(a.rule, from, to);
  }

  partition(a: { bridge: number; from: number; to: number; on: boolean }) {
    const b = this.get(a.bridge);
    const [from, to] = this.pair(b, a.from, a.to) as [string, string];
    if (a.on) b.sw.impairments.partition(from, to);
    else b.sw.impairments.unpartition(from, to);
  }

  isolate(a: { bridge: number; vm: number; on: boolean }) {
    const b = this.get(a.bridge);
    const name = this.member(b, a.vm).vm.spec.name;
    if (a.on) b.sw.impairments.isolate(name);
    else b.sw.impairments.unisolate(name);
  }

  all(a: { bridge: number; what: "partition_all" | "restore_all" | "reset" }) {
    const t = this.get(a.bridge).sw.impairments;
    if (a.what === "partition_all") t.partitionAll();
    else if (a.what === "restore_all") t.restoreAll();
    else if (a.what === "reset") t.reset();
    else throw new Error(`unknown bridge operation ${a.what}`);
  }

  async uplink(a: { bridge: number; on: boolean }) {
    const b = this.get(a.bridge);
    if (a.on && !b.uplink) b.uplink = await Uplink.start(b.sw, b.subnet);
    else if (!a.on && b.uplink) (b.uplink.stop(), (b.uplink = null));
  }

  /** The uplink's gateway, for a guest's default route. */
  gateway(a: { bridge: number }): string {
    return uplinkAddresses(this.get(a.bridge).subnet).gateway;
  }

  // A capture of the whole bridge (vm omitted) or of one NIC, into a queue Lua reads or a pcap file.
  openCapture(a: { bridge: number; vm?: number; pcap?: string }): number {
    const b = this.get(a.bridge);
    const port = a.vm != null ? this.member(b, a.vm).vm.spec.name : undefined;
    const pcap = a.pcap != null ? new PcapSink(String(a.pcap)) : null;
    const queue = pcap ? null : new FrameQueue();
    const stop = b.sw.tap((pcap ?? queue)!, port);
    const id = this.nextCapture++;
    this.captures.set(id, { queue, pcap, stop });
    return id;
  }

  private capture(id: unknown): Capture {
    const c = this.captures.get(Number(id));
    if (!c) throw new Error("capture is closed");
    return c;
  }

  /** Frames waiting (at most `max`), after waiting up to `timeout` s for the first. */
  async nextFrames(a: { capture: number; timeout: number; max?: number }): Promise<LuaFrame[]> {
    const q = this.capture(a.capture).queue;
    if (!q) throw new Error("this capture writes a pcap file: read the file after capture:close()");
    const first = await q.next(Math.max(0, a.timeout * 1000));
    if (!first) return [];
    const out = [first, ...q.drain().slice(0, Math.max(0, (a.max ?? 1000) - 1))];
    return out.map((f) => ({ data: f.frame, from: f.from, to: f.to, time: f.time / 1000 }));
  }

  closeCapture(a: { capture: number }): { frames: number; lost: number } {
    const c = this.captures.get(Number(a.capture));
    if (!c) return { frames: 0, lost: 0 };
    this.captures.delete(Number(a.capture));
    c.stop();
    return { frames: c.pcap?.frames ?? 0, lost: c.queue?.lost ?? 0 };
  }

  save(a: { bridges: number[] }): BridgeState[] {
    return a.bridges.map((id) => {
      const b = this.get(id);
      return { bridge: id, switch: b.sw.save(), uplink: !!b.uplink };
    });
  }

  async load(a: { states: BridgeState[] }) {
    for (const s of a.states) {
      const b = this.get(s.bridge);
      b.sw.load(s.switch);
      for (const m of b.members.values()) m.attached = !s.switch.unplugged.includes(m.vm.spec.name);
      await this.uplink({ bridge: s.bridge, on: s.uplink });
    }
  }

  // Lab snapshots (lab-json.ts) -----------------------------------------------------------

  /** The bridges `ids`, and every bridge one of `vmIds` is on, as lab.json records them. */
  labJsonBridges(ids: number[], vmIds: number[]): LabJsonBridge[] {
    const vms = new Set(vmIds.map((id) => this.vms.get(id)));
    const chosen = this.bridges.filter((b) => ids.includes(b.index - 1) || [...b.members.keys()].some((vm) => vms.has(vm)));
    return chosen.map((b) => {
      const state = this.save({ bridges: [b.index - 1] })[0]!;
      const imp = state.switch.impairments;
      const cut = new Set(imp.blocked.map(([x, y]) => `${x}\0${y}`));
      const both = ([x, y]: [string, string]) => cut.has(`${y}\0${x}`);
      const pct = (p?: number) => Math.round((p ?? 0) * 10000) / 100;
      const members = [...b.members.values()];
      return {
        name: b.name,
        subnet: b.subnet.cidr,
        members: members.map((m) => m.vm.spec.name).sort(),
        latency_ms: imp.all.delayMs ?? 0,
        drop_rate_pct: pct(imp.all.dropRate),
        bandwidth_bps: imp.all.bps ?? 0,
        uplink_enabled: !!b.uplink,
        routes: [],
        isolated: [...imp.isolated].sort(),
        // upstream lists no pairs when the whole bridge is cut (partition_all)
        partitions: imp.allBlocked ? [] : imp.blocked.filter((p) => both(p) && p[0] < p[1]),
        directional_partitions: imp.blocked.filter((p) => !both(p)),
        directional_impairments: imp.pairs.map(([from, to, r]) => ({ from, to, latency_ms: r.delayMs ?? 0, drop_rate_pct: pct(r.dropRate), bandwidth_bps: r.bps ?? 0 })),
        fully_partitioned: imp.allBlocked,
        nics: Object.fromEntries(members.map((m) => [m.vm.spec.name, m.nic.id])),
        state,
      };
    });
  }

  /**
   * A VM restored from a lab snapshot into a new VM joins bridge `id` with the NIC its saved
   * state has (same device id, MAC and address) on a new port. A member of that name that no
   * longer runs (shut down, or never booted) gives its place up.
   */
  rejoin(id: number, vm: GuestVm, saved: NicOptions) {
    const b = this.get(id);
    for (const [other, m] of b.members) {
      if (other.spec.name !== vm.spec.name || other === vm) continue;
      if (other.state === "booted" || other.state === "paused")
        throw new Error(`bridge ${b.name}: vm name '${vm.spec.name}' is taken by a running VM; restore into a file without it`);
      b.sw.removePort(m.vm.spec.name);
      b.members.delete(other);
    }
    const nic: NicOptions = { ...saved, socket: b.sw.addPort(vm.spec.name) };
    vm.spec.nics = [...(vm.spec.nics ?? []).filter((n) => n.id !== saved.id), nic];
    b.members.set(vm, { vm, nic, attached: true });
    // later members get addresses after it (a MAC's last two bytes are its host number)
    const [hi, lo] = saved.mac.split(":").slice(4).map((x) => parseInt(x, 16));
    b.hosts = Math.max(b.hosts, (hi ?? 0) * 256 + (lo ?? 0));
  }

  /** The rules, plugs and uplink lab.json has for bridge `id`. */
  restoreLabJson(id: number, rec: LabJsonBridge) {
    return this.load({ states: [{ ...rec.state, bridge: id }] });
  }

  close() {
    for (const c of this.captures.values()) c.stop();
    this.captures.clear();
    for (const b of this.bridges) {
      b.uplink?.stop();
      b.sw.close();
    }
    this.dir.remove();
  }
}
