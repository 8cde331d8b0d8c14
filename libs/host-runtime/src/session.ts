// The host side of one test file: answers its Lua thread's calls (the contract in host-api.ts)
// and owns what the file made: VMs, snapshots, barriers, temp files. Everything goes when the
// file ends.
import { dirname } from "node:path";
import type { VmEvent } from "./guest";
import type { HostSetup } from "./host-setup";
import type { ExtraOps, HostOps } from "./host-api";
import { VmRegistry } from "./vm-registry";
import { GuestDispatch } from "./guest-dispatch";
import { SnapshotStore } from "./snapshots";
import { Barriers } from "./barriers";
import { HostTempFiles } from "./host-temp";
import { Bridges } from "./bridges";
import { findModule } from "./modules";
import { resumeFixture, type FixtureHost } from "./fixtures";
import { ConsoleStreams } from "./console-streams";
import { consoleExpect } from "./console-expect";
import { timed, type OpRecord } from "./op-timeline";
import { readAttachment } from "./attachments";

/** A failure's console excerpt: this many lines of what the guest printed after its firmware. */
export const FAILURE_CONSOLE_LINES = 40;

export interface SessionOptions extends HostSetup {
  filePath: string;
  /** Which tests run: "run", "filtered" (silently dropped), or a reason to skip. */
  plan: (tests: { name: string; meta: Record<string, unknown> }[], fileTimeoutS?: number) => string[];
  /** `provium list`: VMs are never booted and guest ops are refused. */
  listOnly?: boolean;
  onProgress: (msg: string) => void;
  onTestBegin: (name: string, timeoutS?: number) => void;
  onVmEvent: VmEvent;
  /** Run events other than tests' (fixture builds and hits, warnings). */
  emit: (kind: string, fields: Record<string, unknown>) => void;
  /** Host ops beyond the contract's (the interactive prompt's line reader). */
  extraOps?: ExtraOps;
  /** A fixture builder's session: snapshots go compressed into this directory (the cache's staging). */
  snapshotsInto?: string;
  /** vm:cid() numbers: one counter shared by the run's workers (a SharedArrayBuffer's Int32Array). */
  cidCounter?: Int32Array;
  /** Each op that touches a VM, timed (the report's timeline); unset: nothing is recorded. */
  onOp?: (r: OpRecord) => void;
  /** A test failed and its VMs still run: keep what the report needs; true: --debug's prompt opens. */
  onTestFailing?: (name: string) => boolean;
  /** --debug's prompt: reads a line from the user, shows text. */
  debugConsole?: { read(prompt: string): Promise<string | null>; write(text: string): void };
}

export class FileSession {
  private readonly vms: VmRegistry;
  private readonly guests = new GuestDispatch();
  private readonly snapshots: SnapshotStore;
  private readonly barriers = new Barriers();
  private readonly tempFiles = new HostTempFiles();
  private readonly consoles = new ConsoleStreams();
  private readonly bridges: Bridges;
  private readonly ops: HostOps;
  /** The VM of the latest op that named one: the debug prompt's `vm`. */
  private lastVm: number | null = null;

  constructor(private readonly o: SessionOptions) {
    const vms = (this.vms = new VmRegistry(o));
    const nets = (this.bridges = new Bridges(vms));
    const snaps = (this.snapshots = new SnapshotStore(vms, nets, o));
    const guests = this.guests;
    // A guest whose agent just dropped may be powering off: its QEMU's exit sets the state
    // ("dead") before an op, alone or batched, reads it.
    const target = async (t: { vm: number; worker?: number }) => {
      if (o.listOnly) throw new Error("guest ops do not run under `provium list`");
      const vm = vms.get(t?.vm);
      await vm.settle();
      return [vm, t?.worker ?? 0] as const;
    };
    this.ops = {
      "file.plan": ({ tests, timeout }) => ({ verdicts: o.plan(tests ?? [], timeout ?? undefined) }),
      "test.begin": ({ name, timeout }) => o.onTestBegin(name, timeout),
      "test.failing": ({ name }) => ({ debug: o.onTestFailing?.(name) ?? false, vm: this.lastVm }),
      "test.attach": (a) => (o.emit("attachment", { test: a.test, ...readAttachment(a) }), true as const),
      "debug.read": ({ prompt }) => (o.debugConsole ? o.debugConsole.read(prompt) : null),
      "debug.write": ({ text }) => (o.debugConsole?.write(text), true as const),
      "module.find": ({ name }) => findModule(String(name), o.filePath, o.config.roots),
      "clock.now": () => performance.now() / 1000,
      "clock.sleep": ({ seconds }) => Bun.sleep(Math.max(0, Number(seconds)) * 1000),
      "host.tmpname": () => this.tempFiles.create(),
      "vm.create": (a) => vms.create(a),
      "vm.boot": (a) => vms.boot(a.vms ?? [], a.opts),
      "vm.shutdown": (a) => vms.get(a.vm).shutdown(),
      "vm.dispose": (a) => vms.dispose(a.vm),
      "vm.cid": (a) => vms.cid(a.vm),
      "vm.state": async (a) => {
        const vm = vms.get(a.vm);
        await vm.settle(); // a guest that just powered off is "dead", not "booted" with its agent gone
        return vm.state;
      },
      "vm.boot_kind": (a) => vms.get(a.vm).bootKind,
      "vm.console": (a) => vms.get(a.vm).consoleTail(10_000),
      "vm.pause": (a) => vms.get(a.vm).pause().then(() => true as const),
      "vm.resume": (a) => vms.get(a.vm).resume().then(() => true as const),
      "vm.reset": (a) => vms.get(a.vm).reset(o.agentDeadlineMs).then(() => true as const),
      "vm.power_button": (a) => vms.get(a.vm).powerButton((a.timeout ?? 30) * 1000).then(() => true as const),
      "vm.monitor": (a) => vms.get(a.vm).monitor(a.command),
      "console.log": (a) => vms.consoleLog(a.vm),
      "console.write": (a) => vms.get(a.vm).machine().console.write(a.data, (a.timeout ?? 10) * 1000).then(() => true as const),
      "console.expect": (a) => consoleExpect(vms.get(a.vm), () => vms.consoleLog(a.vm), typeof a.pattern === "string" ? Buffer.from(a.pattern) : a.pattern, a.timeout * 1000),
      "console.open": (a) => this.consoles.open(vms.get(a.vm)),
      "console.read": (a) => this.consoles.read(a.handle, a.timeout_ms),
      "console.close": (a) => (this.consoles.close(a.handle), true as const),
      "disk.attach": (a) => vms.get(a.vm).disks.attach(a.spec),
      "disk.info": (a) => vms.diskInfo(a.vm, a.id),
      "disk.read_sectors": (a) => vms.get(a.vm).disks.readSectors(a.id, a.lba, a.count),
      "disk.write_sectors": (a) => vms.get(a.vm).disks.writeSectors(a.id, a.lba, typeof a.data === "string" ? Buffer.from(a.data) : a.data),
      "disk.fault_inject": (a) => vms.get(a.vm).disks.fault(a.id, a.kind).then(() => true as const),
      "disk.clear_faults": (a) => vms.get(a.vm).disks.get(a.id, "clear_faults").disk.clear().then(() => true as const),
      "disk.detach": (a) => vms.get(a.vm).disks.detach(a.id).then(() => true as const),
      guest: async (a) => guests.call(...(await target(a.target)), a.op, a.args),
      "guest.batch": async (a) => guests.batch(...(await target(a.target)), a.ops),
      "lab.barrier": (a) => this.barriers.arrive(a),
      "lab.claim": (a) => vms.shares.take(a),
      "snapshot.create": (a) => snaps.create(a.vms, a.kind, a.path, a.base, a.names, a.bridges),
      "snapshot.restore": (a) => snaps.restore(a.snap, a.vms).then(() => true as const),
      "snapshot.restore_lab": (a) => snaps.restoreLab(a),
      "snapshot.lab_bridges": (a) => snaps.labBridges(a.snap, a.path, a.base),
      "snapshot.size": (a) => snaps.size(a.snap),
      "snapshot.path": (a) => snaps.path(a.snap),
      "snapshot.delete": (a) => snaps.delete(a.snap) as true,
      "fixture.vm": (a) => this.fixture(String(a.name), "vm", a.taken),
      "fixture.lab": (a) => this.fixture(String(a.name), "lab", a.taken),
      "bridge.create": (a) => nets.create(a),
      "bridge.dispose": (a) => nets.dispose(a),
      "bridge.attach": (a) => nets.attach(a),
      "bridge.detach": (a) => nets.detach(a),
      "bridge.members": (a) => nets.members(a),
      "bridge.impair": (a) => nets.impair(a),
      "bridge.settings": (a) => nets.settings(a),
      "bridge.partition": (a) => nets.partition(a),
      "bridge.is_partitioned": (a) => nets.isPartitioned(a),
      "bridge.isolate": (a) => nets.isolate(a),
      "bridge.is_isolated": (a) => nets.isIsolated(a),
      "bridge.all": (a) => nets.all(a),
      "bridge.route": (a) => nets.route(a),
      "bridge.routes": (a) => nets.routes(a),
      "bridge.uplink": (a) => nets.uplink(a),
      "bridge.gateway": (a) => nets.gateway(a),
      "nic.counters": (a) => nets.counters(a),
      "nic.link": (a) => nets.link(a),
      "nic.info": (a) => nets.nicInfo(a),
      "nic.of_vm": (a) => nets.vmNics(a),
      "vm.ip": (a) => nets.ip(a),
      "capture.open": (a) => nets.openCapture(a),
      "capture.next": (a) => nets.nextFrames(a),
      "capture.read": (a) => nets.readCapture(a),
      "capture.close": (a) => nets.closeCapture(a),
      "debug.crash_worker": () => {
        if (process.env.PROVIUM_TEST_HOOKS !== "1") throw new Error("unknown host op 'debug.crash_worker'");
        setTimeout(() => {
          throw new Error("runner worker crashed on purpose (test hook)");
        });
        return new Promise<never>(() => {});
      },
    };
  }

  handle = async (op: string, args: any) => {
    const fn = (this.ops as Record<string, (args: any) => unknown>)[op] ?? this.o.extraOps?.[op];
    if (!fn) throw new Error(`unknown host op '${op}'`);
    args ??= {};
    const vm = args.target?.vm ?? args.vm ?? (args.vms?.length === 1 ? args.vms[0] : undefined);
    if (typeof vm === "number") this.lastVm = vm;
    if (!this.o.onOp) return fn(args);
    return timed(op, args, this.vmName, () => fn(args), this.o.onOp);
  };

  private vmName = (id: unknown) => {
    try {
      return this.vms.get(id).spec.name;
    } catch {
      return undefined;
    }
  };

  /** The host ops this session answers (the contract's; a test checks Lua calls exactly these). */
  hostOpNames() {
    return Object.keys(this.ops);
  }

  /** Console excerpts of this file's VMs (running or dead), for failure reports. */
  consoleTails(lines = FAILURE_CONSOLE_LINES) {
    return this.vms.all().filter((v) => v.qemu || v.deadLog).map((v) => ({ vm: v.spec.name, tail: v.failureExcerpt(lines) }));
  }

  /** The host files this test file's push_file calls read (unless auto_dep = false). */
  hostDependencies() {
    return this.guests.hostDependencies();
  }

  /** Hands a snapshot's files over (to the fixture cache): the session no longer owns them. */
  takeSnapshot(id: number) {
    return this.snapshots.take(id);
  }

  async close() {
    this.consoles.closeAll();
    this.barriers.close();
    await this.vms.close();
    this.bridges.close();
    this.snapshots.close();
    this.tempFiles.removeAll();
  }

  private fixtureHost(): FixtureHost {
    return {
      config: this.o.config,
      cacheDir: this.o.cacheDir,
      agentEntry: this.o.agentEntry,
      remote: this.o.remote,
      cache: this.o.fixtures(),
      emit: this.o.emit,
      builderSession: (filePath, snapshotsInto) =>
        new FileSession({ ...this.o, filePath, snapshotsInto, plan: (tests) => tests.map(() => "filtered"), onTestBegin: () => {} }),
    };
  }

  // Resumes a fixture into new VMs of this file (one for vm_fixture, every VM of the
  // snapshot for lab_fixture); a name the target lab already uses (`taken`) gets a suffix.
  // A cache entry that does not load is rebuilt once.
  private async fixture(name: string, kind: "vm" | "lab", taken: string[] = []) {
    const host = this.fixtureHost();
    let got = await resumeFixture(name, dirname(this.o.filePath), host);
    if (kind === "vm" && got.parts.length !== 1)
      throw new Error(`fixture ${name} holds ${got.parts.length} VMs (${got.parts.map((p) => p.vm).join(", ")}); use lab_fixture`);
    try {
      return await this.snapshots.restoreParts(got.parts, { taken });
    } catch (e) {
      if (got.built) throw e;
      this.o.emit("progress", { message: `warning: fixture ${name}: the cached snapshot did not load (${(e as Error).message.split("\n")[0]}); rebuilding` });
      got = await resumeFixture(name, dirname(this.o.filePath), host, { rebuild: true });
      return await this.snapshots.restoreParts(got.parts, { taken });
    }
  }
}
