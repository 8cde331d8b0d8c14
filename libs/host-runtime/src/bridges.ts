// A test file's bridges: one userspace switch each (@provium/netswitch), owned by the runner
// worker that owns the file's VMs, its sockets in an owned temp dir that goes with the file.
// A VM attached before boot gets a NIC on the bridge's switch port, a MAC and a static address
// (guest-init configures it before the agent answers); rules, counters, captures and the
// uplink are the switch's. Members are kept by name: a name with no VM behind it is a member
// too (graph state only, as the established API allows), and rules name members.
import { LazyTempDir, type NicOptions } from "@provium/vmm";
import { FrameQueue, hostAddress, parseSubnet, uplinkAddresses, PcapSink, PcapStream, Switch, Uplink, type Impairment, type NicCounters, type Subnet, type SwitchState } from "@provium/netswitch";
import type { GuestVm } from "./guest";
import type { VmRegistry } from "./vm-registry";
import type { LabJsonBridge } from "./lab-json";

/** A member as Lua names it: a VM by id, or a name. */
export type MemberRef = number | string;

interface Member {
  name: string;
  /** null: a name only (no NIC, no port) */
  vm: GuestVm | null;
  nic: NicOptions | null;
  /** false after detach() of a booted VM: its port is unplugged and its link down; attach()
   *  plugs it back. Not listed by members(). */
  attached: boolean;
}

interface Bridge {
  name: string;
  index: number;
  subnet: Subnet;
  sw: Switch;
  members: Map<string, Member>;
  hosts: number;
  uplink: Uplink | null;
  routes: Set<string>;
  /** released at the end of the test that made it */
  disposed: boolean;
}

interface Capture {
  bridge: Bridge;
  queue: FrameQueue | null;
  pcap: PcapSink | null;
  stream: PcapStream | null;
  stop: () => void;
}

/** What a lab snapshot keeps of a bridge. */
export interface BridgeState {
  bridge: number;
  switch: SwitchState;
  uplink: boolean;
  routes?: string[];
}

/** A frame as Lua gets it from capture:next() (the `{frames = true}` form). */
export interface LuaFrame {
  data: Uint8Array;
  from: string;
  to: string | null;
  time: number;
}

/** Which bridge a NIC is on: a VM's NICs go on QEMU's command line sorted by bridge name, so
 *  the guest's ethN is the N-th of its bridges by name (what vm:nic("ethN") means). */
const nicBridge = new WeakMap<NicOptions, string>();

const byBridgeName = (nics: NicOptions[]) => nics.sort((x, y) => ((nicBridge.get(x) ?? "") < (nicBridge.get(y) ?? "") ? -1 : 1));

const MAX_BRIDGES = 200;
const zero = (): NicCounters => ({ rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, dropped: 0, errors: 0 });

export class Bridges {
  private bridges: Bridge[] = [];
  private captures = new Map<number, Capture>();
  private nextCapture = 1;
  private readonly dir = new LazyTempDir("net", "/tmp"); // short: unix socket paths hold 107 bytes

  constructor(private readonly vms: VmRegistry) {}

  private live(): Bridge[] {
    return this.bridges.filter((b) => !b.disposed);
  }

  create(a: { name: string; subnet?: string }): { id: number; subnet: string } {
    const name = String(a.name);
    if (this.live().some((b) => b.name === name)) throw new Error(`bridge name '${name}' is already used in this file`);
    if (this.bridges.length >= MAX_BRIDGES) throw new Error(`at most ${MAX_BRIDGES} bridges a file`);
    const index = this.bridges.length + 1;
    const subnet = parseSubnet(a.subnet ?? `10.0.${index}.0/24`);
    const sw = new Switch(`${this.dir.path}/b${index}`);
    this.bridges.push({ name, index, subnet, sw, members: new Map(), hosts: 0, uplink: null, routes: new Set(), disposed: false });
    return { id: index - 1, subnet: subnet.cidr };
  }

  /** A bridge made inside a test goes at its end: its switch closes, VMs not booted lose its NIC. */
  dispose(a: { bridge: number }) {
    const b = this.get(a.bridge);
    for (const [id, c] of this.captures) if (c.bridge === b) (c.stop(), this.captures.delete(id));
    for (const m of b.members.values()) if (m.vm && m.nic && m.vm.state === "created") m.vm.spec.nics = m.vm.spec.nics!.filter((n) => n !== m.nic);
    b.uplink?.stop();
    b.sw.close();
    b.disposed = true;
  }

  private get(id: unknown): Bridge {
    const b = this.bridges[Number(id)];
    if (!b) throw new Error(`no such bridge (id ${id})`);
    if (b.disposed) throw new Error(`bridge ${b.name} was released at the end of the test that made it`);
    return b;
  }

  private nameOf(ref: MemberRef): string {
    return typeof ref === "number" ? this.vms.get(ref).spec.name : String(ref);
  }

  /** The member `ref` names, attached: else an error about attachment (`op` is the Lua method). */
  private attached(b: Bridge, ref: MemberRef, op: string): Member {
    const name = this.nameOf(ref);
    const m = b.members.get(name);
    if (!m || !m.attached) throw new Error(`${op}: vm ${name} is not attached to bridge ${b.name} (attached: ${this.members({ bridge: b.index - 1 }).join(", ") || "none"}); attach it first`);
    return m;
  }

  // A VM joins before it boots (its NIC is on QEMU's command line; hot-plug is not done). A
  // booted VM detached from this bridge is plugged back in. Every entry is checked before any
  // is attached.
  async attach(a: { bridge: number; members: MemberRef[] }) {
    const b = this.get(a.bridge);
    for (const ref of a.members) {
      if (typeof ref !== "number") continue;
      const vm = this.vms.get(ref);
      const m = b.members.get(vm.spec.name);
      if (m?.vm && m.vm !== vm) throw new Error(`bridge ${b.name}: another vm named ${vm.spec.name} is attached to it`);
      if (!m?.vm && vm.state !== "created")
        throw new Error(`bridge ${b.name}: vm ${vm.spec.name} is already ${vm.state}; attach VMs before they boot (a NIC is not hot-plugged)`);
    }
    for (const ref of a.members) {
      const name = this.nameOf(ref);
      let m = b.members.get(name);
      if (!m) b.members.set(name, (m = { name, vm: null, nic: null, attached: true }));
      if (m.vm && !m.attached) await this.plug(b, m, true);
      m.attached = true;
      if (typeof ref === "number" && !m.vm) this.giveNic(b, m, this.vms.get(ref));
    }
  }

  private giveNic(b: Bridge, m: Member, vm: GuestVm) {
    const n = ++b.hosts;
    const nic: NicOptions = {
      id: `br${b.index}`,
      socket: b.sw.addPort(vm.spec.name),
      mac: ["52", "54", "00", b.index, n >> 8, n & 255].map((x) => x.toString(16).padStart(2, "0")).join(":"),
      address: `${hostAddress(b.subnet, n)}/${b.subnet.prefix}`,
    };
    nicBridge.set(nic, b.name);
    vm.spec.nics = byBridgeName([...(vm.spec.nics ?? []), nic]);
    m.vm = vm;
    m.nic = nic;
  }

  // Leaves the bridge with its partitions, isolation and one-way rules. Before boot the VM
  // loses the NIC; after, the cable is pulled (port unplugged, link down in the guest) and
  // attach() plugs it back. A name that is not a member: its rules go, nothing else.
  async detach(a: { bridge: number; member: MemberRef }) {
    const b = this.get(a.bridge);
    const name = this.nameOf(a.member);
    const m = b.members.get(name);
    b.sw.impairments.forget(name);
    if (!m) return;
    if (m.vm && m.vm.state !== "created") {
      if (m.attached) await this.plug(b, m, false);
      return;
    }
    if (m.vm) {
      m.vm.spec.nics = m.vm.spec.nics!.filter((n) => n !== m.nic);
      b.sw.removePort(name);
    }
    b.members.delete(name);
  }

  /** Member names, sorted, each once (detached ones not). */
  members(a: { bridge: number }): string[] {
    return [...this.get(a.bridge).members.values()].filter((m) => m.attached).map((m) => m.name).sort();
  }

  private async plug(b: Bridge, m: Member, on: boolean) {
    m.attached = on;
    b.sw.setPlugged(m.name, on);
    if (m.vm!.state === "booted" || m.vm!.state === "paused") await this.setLink(m, on);
  }

  private setLink(m: Member, up: boolean) {
    return m.vm!.qemu!.qmp.execute("set_link", { name: m.nic!.id, up });
  }

  /** nic:disconnect() / reconnect() of a booted VM: the guest sees its link go down / come up. */
  async link(a: { bridge: number; member: MemberRef; up: boolean }) {
    const b = this.get(a.bridge);
    const m = this.attachedOrUnplugged(b, a.member);
    m.vm.ready();
    await this.setLink(m, !!a.up);
  }

  private attachedOrUnplugged(b: Bridge, ref: MemberRef): Member & { vm: GuestVm } {
    const name = this.nameOf(ref);
    const m = b.members.get(name);
    if (!m?.vm) throw new Error(`vm ${name} is not attached to bridge ${b.name}`);
    return m as Member & { vm: GuestVm };
  }

  /** A NIC's identity. `member`: the VM (or name) is on the bridge; mac/address once it has a NIC. */
  nicInfo(a: { bridge: number; member: MemberRef }): { vm_name: string; member: boolean; mac: string | null; address: string | null; state: string | null } {
    const b = this.get(a.bridge);
    const name = this.nameOf(a.member);
    const m = b.members.get(name);
    const own = m && (typeof a.member !== "number" || !m.vm || m.vm === this.vms.get(a.member));
    return {
      vm_name: name,
      member: !!own,
      mac: m?.nic?.mac ?? null,
      address: m?.nic?.address?.split("/")[0] ?? null,
      state: m?.vm?.state ?? null,
    };
  }

  /** The bridges (names) a VM has a NIC on, in the order of its NICs: eth0 first. */
  vmNics(a: { vm: number }): string[] {
    const vm = this.vms.get(a.vm);
    return (vm.spec.nics ?? []).map((n) => nicBridge.get(n)).filter((n): n is string => n !== undefined && this.live().some((b) => b.name === n));
  }

  /** vm:ip(bridge?): its address on that bridge, or on the first bridge it is attached to. */
  ip(a: { vm: number; bridge?: number }): string | null {
    const vm = this.vms.get(a.vm);
    const on = a.bridge != null ? [this.get(a.bridge)] : this.live();
    for (const b of on) {
      const m = b.members.get(vm.spec.name);
      if (m?.vm === vm && m.nic) return m.nic.address!.split("/")[0]!;
    }
    if (a.bridge != null) throw new Error(`vm ${vm.spec.name} is not attached to bridge ${on[0]!.name}`);
    return null;
  }

  /** From the guest's side; zeros for a name with no VM (nothing was sent). */
  counters(a: { bridge: number; member: MemberRef }): NicCounters {
    const b = this.get(a.bridge);
    const m = b.members.get(this.nameOf(a.member));
    return m?.nic ? b.sw.counters(m.name) : zero();
  }

  // Whole-bridge (from and to omitted) or one direction between attached members (`op`, the
  // Lua method, names the call in errors; a bandwidth rule may name members to come).
  impair(a: { bridge: number; op: string; from?: MemberRef; to?: MemberRef; rule: Impairment }) {
    const b = this.get(a.bridge);
    if (a.from == null && a.to == null) return b.sw.impairments.set(a.rule);
    if (a.from == null || a.to == null) throw new Error(`${a.op}: the directional form needs both from and to`);
    const check = a.op !== "bandwidth_limit";
    const from = check ? this.attached(b, a.from, a.op).name : this.nameOf(a.from);
    const to = check ? this.attached(b, a.to, a.op).name : this.nameOf(a.to);
    b.sw.impairments.set(a.rule, from, to);
  }

  /** The whole-bridge settings (0: none). */
  settings(a: { bridge: number }): { latency_ms: number; drop_rate_pct: number; bandwidth_bps: number } {
    const w = this.get(a.bridge).sw.impairments.whole();
    return { latency_ms: w.delayMs ?? 0, drop_rate_pct: Math.round((w.dropRate ?? 0) * 100 * 1e9) / 1e9, bandwidth_bps: w.bps ?? 0 };
  }

  // (a, b): the pair, both ways, by any names (members or not); one_way: from a to b only,
  // between attached members.
  partition(a: { bridge: number; a: MemberRef; b: MemberRef; on: boolean; one_way?: boolean }) {
    const b = this.get(a.bridge);
    const t = b.sw.impairments;
    if (a.one_way) {
      const [from, to] = a.on ? [this.attached(b, a.a, "partition").name, this.attached(b, a.b, "partition").name] : [this.nameOf(a.a), this.nameOf(a.b)];
      if (a.on) t.partition(from, to);
      else t.unpartition(from, to);
      return;
    }
    if (a.on) t.partitionPair(this.nameOf(a.a), this.nameOf(a.b));
    else t.unpartitionPair(this.nameOf(a.a), this.nameOf(a.b));
  }

  isPartitioned(a: { bridge: number; a: MemberRef; b: MemberRef }): boolean {
    return this.get(a.bridge).sw.impairments.isPartitioned(this.nameOf(a.a), this.nameOf(a.b));
  }

  isolate(a: { bridge: number; member: MemberRef; on: boolean }) {
    const t = this.get(a.bridge).sw.impairments;
    const name = this.nameOf(a.member);
    if (a.on) t.isolate(name);
    else t.unisolate(name);
  }

  isIsolated(a: { bridge: number; member: MemberRef }): boolean {
    return this.get(a.bridge).sw.impairments.isIsolated(this.nameOf(a.member));
  }

  all(a: { bridge: number; what: "partition_all" | "restore_all" | "reset" }) {
    const t = this.get(a.bridge).sw.impairments;
    if (a.what === "partition_all") t.partitionAll();
    else if (a.what === "restore_all") t.restoreAll();
    else if (a.what === "reset") t.reset();
    else throw new Error(`unknown bridge operation ${a.what}`);
  }

  /** Routes to other bridges, by name: recorded (and kept by snapshots), no frame is routed. */
  route(a: { bridge: number; to: string[] }) {
    const b = this.get(a.bridge);
    for (const n of a.to) b.routes.add(String(n));
  }

  routes(a: { bridge: number }): string[] {
    return [...this.get(a.bridge).routes].sort();
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

  // A capture of the whole bridge (member omitted) or of one NIC: the bytes of a pcap file
  // (`stream`), frames Lua reads one by one, or a pcap file. A NIC's is taken on its port,
  // which carries traffic once the VM has booted.
  openCapture(a: { bridge: number; member?: MemberRef; pcap?: string; stream?: boolean }): number {
    const b = this.get(a.bridge);
    let port: string | undefined;
    if (a.member != null) {
      const name = this.nameOf(a.member);
      const m = b.members.get(name);
      if (!m?.vm || m.vm.state === "created")
        throw new Error(`nic:capture: vm ${name} has no TAP on bridge ${b.name} (not booted?): boot it first`);
      port = name;
    }
    const pcap = a.pcap != null ? new PcapSink(String(a.pcap)) : null;
    const stream = !pcap && a.stream ? new PcapStream() : null;
    const queue = pcap || stream ? null : new FrameQueue();
    const stop = b.sw.tap((pcap ?? stream ?? queue)!, port);
    const id = this.nextCapture++;
    this.captures.set(id, { bridge: b, queue, pcap, stream, stop });
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

  /** The pcap bytes waiting, after waiting up to `timeout_ms`; eof once closed. */
  async readCapture(a: { capture: number; timeout_ms: number }): Promise<{ data: Uint8Array; eof: boolean }> {
    const c = this.captures.get(Number(a.capture));
    if (!c) return { data: new Uint8Array(0), eof: true };
    if (!c.stream) throw new Error("this capture is not a pcap stream");
    return c.stream.read(Math.max(0, Number(a.timeout_ms) || 0));
  }

  closeCapture(a: { capture: number }): { frames: number; lost: number } {
    const c = this.captures.get(Number(a.capture));
    if (!c) return { frames: 0, lost: 0 };
    this.captures.delete(Number(a.capture));
    c.stop();
    return { frames: c.pcap?.frames ?? c.stream?.frames ?? 0, lost: c.queue?.lost ?? c.stream?.lost ?? 0 };
  }

  /** The state of every bridge one of these VMs is on. */
  save(a: { vms: number[] }): BridgeState[] {
    const vms = new Set(a.vms.map((id) => this.vms.get(id)));
    return this.live()
      .filter((b) => [...b.members.values()].some((m) => m.vm && vms.has(m.vm)))
      .map((b) => this.stateOf(b));
  }

  private stateOf(b: Bridge): BridgeState {
    return { bridge: b.index - 1, switch: b.sw.save(), uplink: !!b.uplink, routes: [...b.routes] };
  }

  async load(a: { states: BridgeState[] }) {
    for (const s of a.states) {
      const b = this.bridges[s.bridge];
      if (!b || b.disposed) continue; // a test's bridge, gone with its test
      b.sw.load(s.switch);
      for (const m of b.members.values()) if (m.vm) m.attached = !s.switch.unplugged.includes(m.name);
      b.routes = new Set(s.routes ?? []);
      await this.uplink({ bridge: s.bridge, on: s.uplink });
    }
  }

  // Lab snapshots (lab-json.ts) -----------------------------------------------------------

  /** The bridges `ids`, and every bridge one of `vmIds` is on, as lab.json records them. */
  labJsonBridges(ids: number[], vmIds: number[]): LabJsonBridge[] {
    const vms = new Set(vmIds.map((id) => this.vms.get(id)));
    const chosen = this.live().filter((b) => ids.includes(b.index - 1) || [...b.members.values()].some((m) => m.vm && vms.has(m.vm)));
    return chosen.map((b) => {
      const state = this.stateOf(b);
      const imp = state.switch.impairments;
      const pct = (p?: number) => Math.round((p ?? 0) * 10000) / 100;
      const withNic = [...b.members.values()].filter((m) => m.nic);
      return {
        name: b.name,
        subnet: b.subnet.cidr,
        members: this.members({ bridge: b.index - 1 }),
        latency_ms: imp.all.delayMs ?? 0,
        drop_rate_pct: pct(imp.all.dropRate),
        bandwidth_bps: imp.all.bps ?? 0,
        uplink_enabled: !!b.uplink,
        routes: [...b.routes].sort(),
        isolated: [...imp.isolated].sort(),
        // upstream lists no pairs when the whole bridge is cut (partition_all)
        partitions: imp.allBlocked ? [] : (imp.cut ?? []).map(([x, y]) => (x < y ? [x, y] : [y, x]) as [string, string]).sort(),
        directional_partitions: imp.blocked,
        directional_impairments: imp.pairs.map(([from, to, r]) => ({ from, to, latency_ms: r.delayMs ?? 0, drop_rate_pct: pct(r.dropRate), bandwidth_bps: r.bps ?? 0 })),
        fully_partitioned: imp.allBlocked,
        nics: Object.fromEntries(withNic.map((m) => [m.name, m.nic!.id])),
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
    const old = b.members.get(vm.spec.name);
    if (old?.vm && old.vm !== vm) {
      if (old.vm.state === "booted" || old.vm.state === "paused")
        throw new Error(`bridge ${b.name}: vm name '${vm.spec.name}' is taken by a running VM; restore into a file without it`);
      b.sw.removePort(vm.spec.name);
    }
    const nic: NicOptions = { ...saved, socket: b.sw.addPort(vm.spec.name) };
    nicBridge.set(nic, b.name);
    vm.spec.nics = byBridgeName([...(vm.spec.nics ?? []).filter((n) => n.id !== saved.id), nic]);
    b.members.set(vm.spec.name, { name: vm.spec.name, vm, nic, attached: true });
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
    for (const b of this.live()) {
      b.uplink?.stop();
      b.sw.close();
    }
    this.dir.remove();
  }
}
