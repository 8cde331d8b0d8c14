// The host side of one test file: answers its Lua thread's calls and owns its VMs.
// Every guest op goes through here; VMs are shut down when the file ends.
import { existsSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { Reply } from "@provium/protocol";
import type { Config } from "../config";
import { unknownProfile } from "../config";
import { GuestVm, type VmSnapshot } from "./guest";
import { onProcessExit, ownedTempDir } from "@provium/vmm";
import { prepareImage } from "@provium/vmm";
import { failure, type GuestOps, type OpContext } from "./ops/guest-op";
import { agentOps, execOps } from "./ops/exec";
import { streamOps } from "./ops/streams";
import { processOps } from "./ops/process";
import { Barriers } from "./barriers";
import { fileOps } from "./ops/files";
import { createHash } from "node:crypto";
import type { Amount } from "./capacity";
import type { FixtureCache } from "@provium/fixture-cache";
import { resumeFixture, type FixtureHost } from "./fixtures";
import { HostTempFiles } from "./host-temp";

// Every guest op family registers here; each op works alone and inside vm:batch.
const guestOps: GuestOps = { ...execOps, ...agentOps, ...streamOps, ...processOps, ...fileOps };

export interface SessionOptions {
  config: Config;
  cacheDir: string;
  accel: "kvm" | "tcg";
  filePath: string;
  /** Which tests run: "run", "filtered" (silently dropped), or a reason to skip. */
  plan: (tests: { name: string; meta: Record<string, unknown> }[], fileTimeoutS?: number) => string[];
  /** `provium list`: VMs are never booted and guest ops are refused. */
  listOnly?: boolean;
  agentDeadlineMs: number;
  onProgress: (msg: string) => void;
  onTestBegin: (name: string, timeoutS?: number) => void;
  onVmEvent: (kind: "vm_spawned" | "vm_shutdown", info: { vm: string; pid: number; run_dir: string }) => void;
  /** Reserves host capacity (the run's shared pool); resolves to its release. */
  acquire: (want: Amount) => Promise<() => void>;
  /** Run events other than tests' (fixture builds and hits, warnings). */
  emit: (kind: string, fields: Record<string, unknown>) => void;
  fixtures: FixtureCache;
  /** Host ops beyond the standard ones (the interactive prompt's line reader). */
  extraOps?: Record<string, (args: any) => unknown>;
  /** A fixture builder's session: snapshots go compressed into this directory (the cache's staging). */
  snapshotsInto?: string;
  /** vm:cid() numbers: one counter shared by the run's workers (a SharedArrayBuffer's Int32Array). */
  cidCounter?: Int32Array;
}

const DEFAULT_MEMORY_MIB = 512;

// vm:cid(): numbers from 3 up, as vsock CIDs (0-2 are reserved there; we use virtio-serial,
// so it only names the VM). Unique in the run when its workers share the counter.
const ownCids = new Int32Array(new SharedArrayBuffer(4));
const FIRST_CID = 3;

type Ops = Record<string, (args: any) => Promise<unknown> | unknown>;

export class FileSession {
  private vms: GuestVm[] = [];
  private names = new Set<string>();
  private ops: Ops;
  private barriers = new Barriers();
  // Snapshots taken in this file: one entry per VM, by VM name. Deleted when the file ends.
  private snapshots = new Map<number, Map<string, VmSnapshot>>();
  // Per snapshot: where it lives, whether the user chose that place (then it outlives the
  // file), and the VMs it was taken from (a lab restore goes back into those).
  private snapshotInfo = new Map<number, { path: string; kept: boolean; lab: boolean; from: Map<string, GuestVm> }>();
  private nextSnapshot = 1;
  private snapshotDir: string | null = null;
  private forgetSnapshotDir = () => {};
  // lab:claim: capacity reserved up front for this file; boots draw from it first.
  private claim: { left: Amount; release: () => void } | null = null;
  private tempFiles = new HostTempFiles();

  constructor(private readonly o: SessionOptions) {
    this.ops = {
      "file.plan": ({ tests, timeout }) => ({ verdicts: o.plan(tests ?? [], timeout ?? undefined) }),
      "test.begin": ({ name, timeout }) => o.onTestBegin(name, timeout),
      "module.find": ({ name }) => this.findModule(String(name)),
      "clock.now": () => performance.now() / 1000,
      "clock.sleep": ({ seconds }) => Bun.sleep(Math.max(0, Number(seconds)) * 1000),
      "vm.create": (a) => this.createVm(a),
      "vm.boot": (a) => this.boot(a.vms ?? [], a.opts),
      guest: (a) => this.guest(a.target, a.op, a.args),
      "guest.batch": (a) => this.batch(a.target, a.ops),
      "vm.shutdown": (a) => this.vm(a.vm).shutdown(),
      "vm.dispose": (a) => this.disposeVm(a.vm),
      "vm.cid": (a) => this.cid(a.vm),
      "vm.state": (a) => this.vm(a.vm).state,
      "vm.console": (a) => this.vm(a.vm).consoleTail(10_000),
      "lab.barrier": (a) => this.barriers.arrive(a),
      "lab.claim": (a) => this.claimCapacity(a),
      "vm.pause": (a) => this.vm(a.vm).pause().then(() => true),
      "vm.resume": (a) => this.vm(a.vm).resume().then(() => true),
      "snapshot.create": (a) => this.createSnapshot(a.vms, a.kind, a.path, a.base),
      "snapshot.restore": (a) => this.restoreSnapshot(a.snap, a.vms),
      "snapshot.restore_lab": (a) => this.restoreLab(a.vms, a.snap, a.path, a.base),
      "snapshot.size": (a) => [...this.snapshot(a.snap).values()].reduce((n, s) => n + s.bytes, 0),
      "snapshot.path": (a) => (this.snapshot(a.snap), this.snapshotInfo.get(Number(a.snap))!.path),
      "snapshot.delete": (a) => this.deleteSnapshot(a.snap),
      "fixture.vm": (a) => this.fixture(String(a.name), "vm"),
      "fixture.lab": (a) => this.fixture(String(a.name), "lab"),
      "host.tmpname": () => this.tempFiles.create(),
      // The runner's own tests (PROVIUM_TEST_HOOKS=1) check that a crashed worker fails one file.
      "debug.crash_worker": () => {
        if (process.env.PROVIUM_TEST_HOOKS !== "1") throw new Error("unknown host op 'debug.crash_worker'");
        setTimeout(() => {
          throw new Error("runner worker crashed on purpose (test hook)");
        });
        return new Promise(() => {});
      },
    };
  }

  handle = async (op: string, args: any) => {
    const fn = this.ops[op] ?? this.o.extraOps?.[op];
    if (!fn) throw new Error(`unknown host op '${op}'`);
    return fn(args ?? {});
  };

  /** Console tails of this file's VMs, for failure reports. */
  consoleTails(lines = 15) {
    return this.vms.filter((v) => v.qemu).map((v) => ({ vm: v.spec.name, tail: v.consoleTail(lines) }));
  }

  async close() {
    this.barriers.close();
    await Promise.allSettled(this.vms.map((v) => v.shutdown()));
    if (this.snapshotDir && !this.o.snapshotsInto) rmSync(this.snapshotDir, { recursive: true, force: true });
    this.forgetSnapshotDir();
    this.tempFiles.removeAll();
    this.claim?.release();
    this.claim = null;
  }

  private snapshot(id: unknown) {
    const snap = this.snapshots.get(Number(id));
    if (!snap) throw new Error("snapshot was deleted");
    return snap;
  }

  // VMs are saved one after another: each pauses only for its own save. A VM's snapshot with a
  // `path` goes to that file, a lab's into that directory (relative: to the calling Lua file's
  // directory), and is kept when the file ends; a lab's directory also gets lab.json.
  private async createSnapshot(ids: unknown[], kind: "vm" | "lab", path?: string, base?: string) {
    if (!this.snapshotDir) {
      const dir = (this.snapshotDir = this.o.snapshotsInto ?? ownedTempDir("snap"));
      // A run that is interrupted (or exits) before close() still takes its snapshots away.
      if (!this.o.snapshotsInto) this.forgetSnapshotDir = onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
    }
    const id = this.nextSnapshot++;
    const chosen = path ? resolve(base ?? ".", path) : null;
    const dir = chosen ? (kind === "lab" ? chosen : dirname(chosen)) : join(this.snapshotDir, String(id));
    const parts = new Map<string, VmSnapshot>();
    const from = new Map<string, GuestVm>();
    try {
      for (const vmId of ids) {
        const vm = this.vm(vmId);
        const file = chosen && kind === "vm" ? chosen : undefined;
        parts.set(vm.spec.name, await vm.snapshot(dir, { compress: !!this.o.snapshotsInto, file }));
        from.set(vm.spec.name, vm);
      }
      if (kind === "lab") writeFileSync(join(dir, LAB_JSON), JSON.stringify(labJson(dir, [...parts.values()]), null, 2));
    } catch (e) {
      if (chosen) removeSnapshotFiles(parts, kind === "lab" ? dir : null);
      else rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    this.snapshots.set(id, parts);
    const where = kind === "vm" ? [...parts.values()][0]?.memory ?? dir : dir;
    this.snapshotInfo.set(id, { path: where, kept: !!chosen, lab: kind === "lab", from });
    return { id, label: kind === "vm" ? [...parts.keys()].join(", ") : "lab" };
  }

  private async restoreSnapshot(snapId: unknown, ids: unknown[]) {
    const snap = this.snapshot(snapId);
    const vms = ids.map((id) => this.vm(id));
    await Promise.all(
      vms.map((vm) => {
        // A one-VM snapshot restores into any VM; a lab's goes by name.
        const part = snap.size === 1 ? [...snap.values()][0]! : snap.get(vm.spec.name);
        if (!part) throw new Error(`the snapshot has no state for vm ${vm.spec.name} (it holds ${[...snap.keys()].join(", ")})`);
        return vm.restore(part, this.o.agentDeadlineMs);
      }),
    );
    return true;
  }

  // lab:restore: each member of the snapshot goes back into the VM it was taken from when the
  // lab holds it; a member the lab lacks becomes a new VM of the lab (returned, for Lua to
  // adopt). A lab VM of a member's name that is another VM is refused before anything changes.
  private async restoreLab(ids: unknown[], snapId?: unknown, path?: string, base?: string) {
    const snap = snapId != null ? this.snapshot(snapId) : readLabJson(resolve(base ?? ".", String(path)));
    const from = snapId != null ? this.snapshotInfo.get(Number(snapId))!.from : new Map<string, GuestVm>();
    const inLab = new Map(ids.map((id) => this.vm(id)).map((vm) => [vm.spec.name, vm]));
    for (const name of snap.keys()) {
      const vm = inLab.get(name);
      if (vm && vm !== from.get(name))
        throw new Error(`lab:restore: vm name '${name}' is already used in this lab by a VM the snapshot was not taken from; restore into a lab without it`);
    }
    const fresh = [...snap.values()].filter((part) => !inLab.has(part.vm));
    await Promise.all([...snap.values()].filter((part) => inLab.has(part.vm)).map((part) => inLab.get(part.vm)!.restore(part, this.o.agentDeadlineMs)));
    return this.restoreParts(fresh, { rename: false });
  }

  /** Hands a snapshot's files over (to the fixture cache): the session no longer owns them. */
  takeSnapshot(id: number) {
    if (this.snapshotInfo.get(id)?.kept) throw new Error("a fixture returns a snapshot taken without a path: the cache decides where it lives");
    const parts = [...this.snapshot(id).values()];
    this.snapshots.delete(id);
    return parts;
  }

  private fixtureHost(): FixtureHost {
    return {
      config: this.o.config,
      cacheDir: this.o.cacheDir,
      cache: this.o.fixtures,
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
      return await this.restoreParts(got.parts, { rename: true });
    } catch (e) {
      if (got.built) throw e;
      this.o.emit("progress", { message: `warning: fixture ${name}: the cached snapshot did not load (${(e as Error).message.split("\n")[0]}); rebuilding` });
      got = await resumeFixture(name, dirname(this.o.filePath), host, { rebuild: true });
      return await this.restoreParts(got.parts, { rename: true });
    }
  }

  // New VMs of this file, each restored from one snapshot part; undone as a whole on failure.
  // `rename`: a name already used gets a suffix (fixtures), else it is an error.
  private async restoreParts(parts: VmSnapshot[], opts: { rename: boolean }) {
    const made: { id: number; name: string; profile: string }[] = [];
    try {
      for (const part of parts) {
        let vmName = part.vm;
        for (let n = 2; opts.rename && this.names.has(vmName); n++) vmName = `${part.vm}#${n}`;
        const id = this.createVm({ name: vmName, profile: part.spec.profile, memory: part.spec.memoryMiB, cpus: part.spec.cpus });
        made.push({ id, name: vmName, profile: part.spec.profile });
        const vm = this.vms[id]!;
        vm.onShutdown(await this.reserve({ memoryMiB: vm.spec.memoryMiB, cpus: vm.spec.cpus }));
        await vm.restore(part, this.o.agentDeadlineMs);
      }
      return made;
    } catch (e) {
      for (const m of made) {
        await this.vms[m.id]!.shutdown();
        this.names.delete(m.name);
      }
      throw e;
    }
  }

  private deleteSnapshot(id: unknown) {
    const snap = this.snapshots.get(Number(id));
    if (!snap) return true;
    const info = this.snapshotInfo.get(Number(id));
    this.snapshots.delete(Number(id));
    this.snapshotInfo.delete(Number(id));
    // A QEMU launched ahead to restore it has nothing left to wait for.
    for (const part of snap.values()) for (const vm of this.vms) void vm?.dropSpare(part);
    // A kept snapshot's place is the user's: only the files it wrote there go.
    if (info?.kept) removeSnapshotFiles(snap, info.lab ? info.path : null);
    else rmSync(join(this.snapshotDir!, String(id)), { recursive: true, force: true });
    return true;
  }

  private async claimCapacity(a: { memory?: unknown; cpus?: unknown }) {
    if (this.claim) throw new Error("claim already taken for this file");
    const want = { memoryMiB: a.memory == null ? 0 : parseMemory(a.memory), cpus: a.cpus == null ? 0 : Number(a.cpus) };
    if (!Number.isInteger(want.cpus) || want.cpus < 0) throw new Error(`claim: cpus must be a non-negative integer, got ${a.cpus}`);
    this.claim = { left: { ...want }, release: await this.o.acquire(want) };
  }

  // A boot takes its share from the file's claim when that has room, else from the pool.
  private async reserve(want: Amount): Promise<() => void> {
    const claim = this.claim;
    if (claim && want.memoryMiB <= claim.left.memoryMiB && want.cpus <= claim.left.cpus) {
      claim.left.memoryMiB -= want.memoryMiB;
      claim.left.cpus -= want.cpus;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        claim.left.memoryMiB += want.memoryMiB;
        claim.left.cpus += want.cpus;
      };
    }
    return this.o.acquire(want);
  }

  private vm(id: unknown): GuestVm {
    const vm = this.vms[Number(id)];
    if (!vm) throw new Error(`no such vm (id ${id})`);
    return vm;
  }

  // A VM made inside a test, at its end: shut down, and its name free again.
  private async disposeVm(id: unknown) {
    const vm = this.vm(id);
    await vm.shutdown();
    this.names.delete(vm.spec.name);
  }

  private cids = new Map<GuestVm, number>();

  // Given on the first ask once the VM has run (booted or restored); kept for its life.
  private cid(id: unknown): number | null {
    const vm = this.vm(id);
    if (vm.state === "created") return null;
    let cid = this.cids.get(vm);
    if (cid === undefined) this.cids.set(vm, (cid = FIRST_CID + Atomics.add(this.o.cidCounter ?? ownCids, 0, 1)));
    return cid;
  }

  private createVm(a: { name: string; profile: string; memory?: unknown; cpus?: unknown }) {
    if (this.names.has(a.name)) throw new Error(`vm name '${a.name}' is already used in this file`);
    if (!this.o.config.profiles[a.profile]) throw new Error(unknownProfile(this.o.config, a.profile));
    const memoryMiB = a.memory === undefined || a.memory === null ? DEFAULT_MEMORY_MIB : parseMemory(a.memory);
    const cpus = a.cpus === undefined || a.cpus === null ? 1 : Number(a.cpus);
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw new Error(`cpus must be an integer from 1 to 64, got ${a.cpus}`);
    this.names.add(a.name);
    this.vms.push(new GuestVm({ name: a.name, profile: a.profile, memoryMiB, cpus }, this.o.onVmEvent));
    return this.vms.length - 1;
  }

  private async boot(ids: unknown[], opts?: Record<string, unknown>) {
    if (opts && Object.keys(opts).length) throw new Error(`boot options are not supported yet: ${Object.keys(opts).join(", ")}`);
    const vms = ids.map((id) => this.vm(id));
    for (const vm of vms) vm.checkBootable();
    if (this.o.listOnly) return;
    // Images are prepared while the shares are reserved, so a VM that waits for room has its
    // image ready when it gets it. No VM boots before every share is granted: a lab that can
    // never fit fails at once (before an image build that may take minutes), booting nothing.
    const preparing = vms.map((vm) => prepareImage(this.o.config.profiles[vm.spec.profile]!, this.o.cacheDir, this.o.onProgress));
    const reserving = vms.map((vm) => this.reserve({ memoryMiB: vm.spec.memoryMiB, cpus: vm.spec.cpus }));
    let releases: (() => void)[];
    try {
      releases = await Promise.all(reserving);
    } catch (e) {
      for (const r of reserving) r.then((release) => release(), () => {}); // shares granted after all go back
      for (const p of preparing) p.catch(() => {});
      throw e;
    }
    const results = await Promise.allSettled(
      vms.map(async (vm, i) => {
        const image = await preparing[i]!.catch((e) => {
          releases[i]!();
          throw e;
        });
        vm.onShutdown(releases[i]!);
        await vm.boot(image, this.o.accel, this.o.agentDeadlineMs);
      }),
    );
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
  }

  private target(t: { vm: number; worker?: number }): OpContext {
    if (this.o.listOnly) throw new Error("guest ops do not run under `provium list`");
    return { vm: this.vm(t?.vm), worker: t?.worker ?? 0, hostFile: this.hostFile };
  }

  // Host files pushed into guests (push_file), for the fixture cache key: path and sha256.
  private pushed = new Map<string, string>();

  /** The host files this test file's push_file calls read (unless auto_dep = false). */
  hostDependencies(): { path: string; sha256: string }[] {
    return [...this.pushed].map(([path, sha256]) => ({ path, sha256 }));
  }

  private hostFile = (path: string, record: boolean): Uint8Array => {
    let data: Uint8Array;
    try {
      data = readFileSync(path);
    } catch (e) {
      throw new Error(`cannot read host file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (record) this.pushed.set(path, createHash("sha256").update(data).digest("hex"));
    return data;
  };

  private op(name: string) {
    const op = guestOps[name];
    if (!op) throw new Error(`unknown guest op '${name}'`);
    return op;
  }

  // Failures of the connection itself are infrastructure errors: they name the VM and
  // show the console, since the guest or its agent is probably gone.
  private async send(ctx: OpContext, request: Parameters<NonNullable<GuestVm["agent"]>["request"]>[0], what: string): Promise<Reply> {
    const agent = ctx.vm.ready();
    try {
      return await agent.request(request, ctx.worker);
    } catch (e) {
      throw new Error(`${what}: vm ${ctx.vm.spec.name}: ${(e as Error).message}${ctx.vm.consoleExcerpt()}`);
    }
  }

  private async guest(target: { vm: number; worker?: number }, name: string, args: any) {
    const op = this.op(name);
    const ctx = this.target(target);
    if (op.run)
      return op.run(args, ctx, async (req) => {
        const r = await this.send(ctx, req, op.describe(args));
        const err = failure(r, op.describe(args));
        if (err) throw err;
        return r;
      });
    const r = await this.send(ctx, op.request(args, ctx), op.describe(args));
    const err = failure(r, op.describe(args));
    if (err) throw err;
    return op.reply(r, args, ctx);
  }

  // One round trip for many ops; each result is {ok = value} or {err = message}.
  private async batch(target: { vm: number; worker?: number }, items: { op: string; args: any }[]) {
    const ctx = this.target(target);
    const ops = items.map((it) => this.op(it.op));
    const r = await this.send(ctx, { batch: items.map((it, i) => ({ id: i + 1, worker: ctx.worker, op: ops[i]!.request(it.args, ctx) })) }, "batch");
    const err = failure(r, "batch");
    if (err) throw err;
    return Promise.all(r.batch!.map(async (sub, i) => {
      const what = ops[i]!.describe(items[i]!.args);
      const e = failure(sub, what);
      if (e) return { err: e.message };
      try {
        return { ok: await ops[i]!.reply(sub, items[i]!.args, ctx) };
      } catch (x) {
        return { err: `${what}: ${(x as Error).message}` };
      }
    }));
  }

  // Helpers are looked up next to the test file, then under each root.
  private findModule(name: string) {
    const rel = name.replaceAll(".", "/");
    const bases = [dirname(this.o.filePath), ...this.o.config.roots];
    for (const base of bases)
      for (const cand of [join(base, rel + ".lua"), join(base, rel, "init.lua")])
        if (existsSync(cand)) return { path: relative(process.cwd(), cand) || cand, source: readFileSync(cand, "utf8") };
    return null;
  }
}

// lab.json: the members of a lab snapshot, for people and for lab:restore(dir). `snapshot` is
// what a restore needs, with the state's file relative to the directory.
const LAB_JSON = "lab.json";

function labJson(dir: string, parts: VmSnapshot[]) {
  return {
    version: 1,
    vms: parts.map((p) => ({
      name: p.vm,
      profile: p.spec.profile,
      memory_mib: p.spec.memoryMiB,
      cpus: p.spec.cpus,
      state: relative(dir, p.memory),
      snapshot: { ...p, memory: relative(dir, p.memory) },
    })),
  };
}

function readLabJson(dir: string): Map<string, VmSnapshot> {
  const file = join(dir, LAB_JSON);
  let meta: { vms?: { name?: unknown; snapshot?: VmSnapshot }[] };
  try {
    meta = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`lab:restore: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const parts = new Map<string, VmSnapshot>();
  for (const v of meta.vms ?? []) {
    const p = v.snapshot;
    if (!p || typeof v.name !== "string" || typeof p.memory !== "string" || !p.spec || !p.image) throw new Error(`lab:restore: ${file} is not a lab snapshot's (a member without its state)`);
    const memory = isAbsolute(p.memory) ? p.memory : join(dir, p.memory);
    if (!existsSync(memory)) throw new Error(`lab:restore: the state of vm '${v.name}' (${memory}) is missing`);
    parts.set(v.name, { ...p, vm: v.name, memory });
  }
  if (!parts.size) throw new Error(`lab:restore: ${file} lists no VMs`);
  return parts;
}

/** Removes what a snapshot wrote (its states, saved disks, lab.json), not the place it was put. */
function removeSnapshotFiles(parts: Map<string, VmSnapshot>, labDir: string | null) {
  for (const p of parts.values()) {
    rmSync(p.memory, { force: true });
    // Only the disks saved with it (named after its state or VM), never a shared base image.
    const saved = (f: string) => f.startsWith(`${p.memory}.`) || (labDir !== null && dirname(f) === labDir && f.startsWith(join(labDir, `${p.vm}.`)));
    for (const d of p.image.drives ?? []) if (saved(d.file)) rmSync(d.file, { force: true });
  }
  if (!labDir) return;
  rmSync(join(labDir, LAB_JSON), { force: true });
  try {
    rmdirSync(labDir); // made for it, most likely; one holding anything else stays
  } catch {}
}

export function parseMemory(v: unknown): number {
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  const m = typeof v === "string" ? v.trim().match(/^(\d+)\s*([MG])i?B?$/i) : null;
  if (!m) throw new Error(`memory must be MiB as an integer or a string like "512M" or "2G", got ${JSON.stringify(v)}`);
  return Number(m[1]) * (m[2]!.toUpperCase() === "G" ? 1024 : 1);
}

