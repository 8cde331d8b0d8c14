// The host side of one test file: answers its Lua thread's calls (the contract in host-api.ts)
// and owns what the file made: VMs, snapshots, barriers, temp files. Everything goes when the
// file ends.
import { dirname } from "node:path";
import type { FixtureCache } from "@provium/fixture-cache";
import type { RuntimeConfig } from "./config";
import type { Amount } from "./capacity";
import type { VmEvent } from "./guest";
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

export interface SessionOptions {
  config: RuntimeConfig;
  cacheDir: string;
  agentEntry: string;
  accel: "kvm" | "tcg";
  filePath: string;
  /** Which tests run: "run", "filtered" (silently dropped), or a reason to skip. */
  plan: (tests: { name: string; meta: Record<string, unknown> }[], fileTimeoutS?: number) => string[];
  /** `provium list`: VMs are never booted and guest ops are refused. */
  listOnly?: boolean;
  agentDeadlineMs: number;
  onProgress: (msg: string) => void;
  onTestBegin: (name: string, timeoutS?: number) => void;
  onVmEvent: VmEvent;
  /** Reserves host capacity (the run's shared pool); resolves to its release. */
  acquire: (want: Amount) => Promise<() => void>;
  /** Run events other than tests' (fixture builds and hits, warnings). */
  emit: (kind: string, fields: Record<string, unknown>) => void;
  /** The fixture cache, opened on first use. */
  fixtures: () => FixtureCache;
  /** Host ops beyond the contract's (the interactive prompt's line reader). */
  extraOps?: ExtraOps;
  /** A fixture builder's session: snapshots go compressed into this directory (the cache's staging). */
  snapshotsInto?: string;
  /** vm:cid() numbers: one counter shared by the run's workers (a SharedArrayBuffer's Int32Array). */
  cidCounter?: Int32Array;
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

  constructor(private readonly o: SessionOptions) {
    const vms = (this.vms = new VmRegistry(o));
    const snaps = (this.snapshots = new SnapshotStore(vms, o));
    const guests = this.guests;
    const nets = (this.bridges = new Bridges(vms));
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
      "console.log": (a) => vms.consoleLog(a.vm),
      "console.write": (a) => vms.get(a.vm).machine().console.write(a.data, (a.timeout ?? 10) * 1000).then(() => true as const),
      "console.open": (a) => this.consoles.open(vms.get(a.vm)),
      "console.read": (a) => this.consoles.read(a.handle, a.timeout_ms),
      "console.close": (a) => (this.consoles.close(a.handle), true as const),
      "disk.attach": (a) => vms.get(a.vm).disks.attach(a.spec),
      "disk.info": (a) => vms.diskInfo(a.vm, a.id),
      "disk.read_sectors": (a) => vms.get(a.vm).disks.get(a.id).disk.readSectors(a.lba, a.count),
      "disk.write_sectors": (a) => (vms.get(a.vm).disks.get(a.id).disk.writeSectors(a.lba, typeof a.data === "string" ? Buffer.from(a.data) : a.data), true as const),
      "disk.fault_inject": (a) => vms.get(a.vm).disks.fault(a.id, a.kind).then(() => true as const),
      "disk.clear_faults": (a) => vms.get(a.vm).disks.get(a.id).disk.clear().then(() => true as const),
      "disk.detach": (a) => vms.get(a.vm).disks.detach(a.id).then(() => true as const),
      guest: async (a) => guests.call(...(await target(a.target)), a.op, a.args),
      "guest.batch": async (a) => guests.batch(...(await target(a.target)), a.ops),
      "lab.barrier": (a) => this.barriers.arrive(a),
      "lab.claim": (a) => vms.shares.take(a),
      "snapshot.create": (a) => snaps.create(a.vms, a.kind, a.path, a.base),
      "snapshot.restore": (a) => snaps.restore(a.snap, a.vms).then(() => true as const),
      "snapshot.restore_lab": (a) => snaps.restoreLab(a.vms, a.snap, a.path, a.base),
      "snapshot.size": (a) => snaps.size(a.snap),
      "snapshot.path": (a) => snaps.path(a.snap),
      "snapshot.delete": (a) => snaps.delete(a.snap) as true,
      "fixture.vm": (a) => this.fixture(String(a.name), "vm"),
      "fixture.lab": (a) => this.fixture(String(a.name), "lab"),
      "bridge.create": (a) => nets.create(a),
      "bridge.attach": (a) => nets.attach(a),
      "bridge.detach": (a) => nets.detach(a),
      "bridge.impair": (a) => nets.impair(a),
      "bridge.partition": (a) => nets.partition(a),
      "bridge.isolate": (a) => nets.isolate(a),
      "bridge.all": (a) => nets.all(a),
      "bridge.uplink": (a) => nets.uplink(a),
      "bridge.gateway": (a) => nets.gateway(a),
      "bridge.save": (a) => nets.save(a),
      "bridge.load": (a) => nets.load(a),
      "nic.counters": (a) => nets.counters(a),
      "nic.link": (a) => nets.link(a),
      "nic.info": (a) => nets.nicInfo(a),
      "vm.ip": (a) => nets.ip(a),
      "capture.open": (a) => nets.openCapture(a),
      "capture.next": (a) => nets.nextFrames(a),
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
    return fn(args ?? {});
  };

  /** The host ops this session answers (the contract's; a test checks Lua calls exactly these). */
  hostOpNames() {
    return Object.keys(this.ops);
  }

  /** Console tails of this file's VMs, for failure reports. */
  consoleTails(lines = 15) {
    return this.vms.all().filter((v) => v.qemu || v.deadLog).map((v) => ({ vm: v.spec.name, tail: v.consoleTail(lines) }));
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
      cache: this.o.fixtures(),
      emit: this.o.emit,
      builderSession: (filePath, snapshotsInto) =>
        new FileSession({ ...this.o, filePath, snapshotsInto, plan: (tests) => tests.map(() => "filtered"), onTestBegin: () => {} }),
    };
  }

  // Resumes a fixture into new VMs of this file (one for vm_fixture, every VM of the
  // snapshot for lab_fixture). A cache entry that does not load is rebuilt once.
  private async fixture(name: string, kind: "vm" | "lab") {
    const host = this.fixtureHost();
    let got = await resumeFixture(name, dirname(this.o.filePath), host);
    if (kind === "vm" && got.parts.length !== 1)
      throw new Error(`fixture ${name} holds ${got.parts.length} VMs (${got.parts.map((p) => p.vm).join(", ")}); use lab_fixture`);
    try {
      return await this.snapshots.restoreParts(got.parts, { rename: true });
    } catch (e) {
      if (got.built) throw e;
      this.o.emit("progress", { message: `warning: fixture ${name}: the cached snapshot did not load (${(e as Error).message.split("\n")[0]}); rebuilding` });
      got = await resumeFixture(name, dirname(this.o.filePath), host, { rebuild: true });
      return await this.snapshots.restoreParts(got.parts, { rename: true });
    }
  }
}
