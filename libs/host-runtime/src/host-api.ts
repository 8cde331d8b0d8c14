// The one contract between a test file's Lua half and its host half: every host op Lua may
// call (`P.call(op, args)`) with its argument and result types. The session's op table is
// checked against it at compile time, the Lua sources against its names by a test
// (test/host/contract.test.ts), and guest ops are the keys of `guestOps` (ops/index.ts).
import type { GuestOpName } from "./ops";
import type { DiskSpec } from "./disks";
import type { Bridges } from "./bridges";
import type { MadeVm } from "./snapshots";

/** Which agent a guest op goes to: a VM, and a worker (namespace) in it, 0 = the root. */
export interface Target {
  vm: number;
  worker?: number;
}

export interface HostApi {
  "file.plan": { args: { tests?: { name: string; meta: Record<string, unknown> }[]; timeout?: number }; result: { verdicts: string[] } };
  "test.begin": { args: { name: string; timeout?: number }; result: void };
  /** A test failed (before its scope closes): the host keeps its VMs' consoles; `debug`: open the prompt. */
  "test.failing": { args: { name: string }; result: { debug: boolean; vm: number | null } };
  /** t:attach(name, path_or_string): a file's bytes or a string, onto the test's report. */
  "test.attach": { args: { test: string; name: string; value?: string | Uint8Array; path?: string; data?: string | Uint8Array; dir: string }; result: true };
  /** --debug's prompt: a line from the user (null: end of input), and text to show. */
  "debug.read": { args: { prompt: string }; result: string | null };
  "debug.write": { args: { text: string }; result: true };
  "module.find": { args: { name: string }; result: { path: string; source: string } | null };
  "clock.now": { args: {}; result: number };
  "clock.sleep": { args: { seconds: number }; result: void };
  "host.tmpname": { args: {}; result: string };

  "vm.create": { args: { name: string; profile: string; memory?: number | string; cpus?: number }; result: number };
  "vm.boot": { args: { vms: number[]; opts?: Record<string, unknown> }; result: void };
  "vm.shutdown": { args: { vm: number }; result: void };
  "vm.dispose": { args: { vm: number }; result: void };
  "vm.cid": { args: { vm: number }; result: number | null };
  "vm.state": { args: { vm: number }; result: string };
  "vm.boot_kind": { args: { vm: number }; result: "warm" | "cold" | null };
  "vm.console": { args: { vm: number }; result: string };
  "vm.pause": { args: { vm: number }; result: true };
  "vm.resume": { args: { vm: number }; result: true };
  "vm.reset": { args: { vm: number }; result: true };
  "vm.power_button": { args: { vm: number; timeout?: number }; result: true };
  /** QEMU's human monitor (HMP) through QMP's human-monitor-command: its text answer. */
  "vm.monitor": { args: { vm: number; command: string }; result: string };
  "console.log": { args: { vm: number }; result: Uint8Array };
  "console.write": { args: { vm: number; data: string | Uint8Array; timeout?: number }; result: true };
  "console.expect": { args: { vm: number; pattern: string | Uint8Array; timeout: number }; result: { found: boolean; ended: boolean; tail: string } };
  "console.open": { args: { vm: number }; result: number };
  "console.read": { args: { handle: number; timeout_ms: number }; result: { data: Uint8Array; eof: boolean } };
  "console.close": { args: { handle: number }; result: true };
  "disk.attach": { args: { vm: number; spec: DiskSpec }; result: { id: string; device: string; size: number } };
  "disk.info": { args: { vm: number; id: string }; result: { id: string; device: string; size: number; readonly: boolean; faults: string[] } | null };
  "disk.read_sectors": { args: { vm: number; id: string; lba: number; count: number }; result: Uint8Array };
  "disk.write_sectors": { args: { vm: number; id: string; lba: number; data: string | Uint8Array }; result: true };
  "disk.fault_inject": { args: { vm: number; id: string; kind: string }; result: true };
  "disk.clear_faults": { args: { vm: number; id: string }; result: true };
  "disk.detach": { args: { vm: number; id: string }; result: true };

  guest: { args: { target: Target; op: GuestOpName; args: unknown }; result: unknown };
  "guest.batch": { args: { target: Target; ops: { op: GuestOpName; args: unknown }[] }; result: ({ ok: unknown } | { err: string })[] };

  "lab.barrier": { args: { lab?: unknown; name: string; count: number; timeout: number }; result: boolean };
  "lab.claim": { args: { memory?: number | string; cpus?: number }; result: void };

  "snapshot.create": { args: { vms: number[]; kind: "vm" | "lab"; path?: string; base?: string; names?: string[]; bridges?: number[] }; result: { id: number; label: string } };
  "snapshot.restore": { args: { snap: number; vms: number[] }; result: true };
  "snapshot.restore_lab": { args: { vms: number[]; paths?: string[]; snap?: number; path?: string; base?: string; bridges?: { name: string; id: number }[] }; result: MadeVm[] };
  "snapshot.lab_bridges": { args: { snap?: number; path?: string; base?: string }; result: { name: string; subnet: string }[] };
  "snapshot.size": { args: { snap: number }; result: number };
  "snapshot.path": { args: { snap: number }; result: string };
  "snapshot.delete": { args: { snap: number }; result: true };
  "fixture.vm": { args: { name: string; taken?: string[] }; result: MadeVm[] };
  "fixture.lab": { args: { name: string; taken?: string[] }; result: MadeVm[] };

  // Bridges and NICs (bridges.ts): bridges and captures by id, members by VM id or by name.
  "bridge.create": { args: Arg<"create">; result: ReturnType<Bridges["create"]> };
  "bridge.dispose": { args: Arg<"dispose">; result: void };
  "bridge.attach": { args: Arg<"attach">; result: void };
  "bridge.detach": { args: Arg<"detach">; result: void };
  "bridge.members": { args: Arg<"members">; result: string[] };
  "bridge.impair": { args: Arg<"impair">; result: void };
  "bridge.settings": { args: Arg<"settings">; result: ReturnType<Bridges["settings"]> };
  "bridge.partition": { args: Arg<"partition">; result: void };
  "bridge.is_partitioned": { args: Arg<"isPartitioned">; result: boolean };
  "bridge.isolate": { args: Arg<"isolate">; result: void };
  "bridge.is_isolated": { args: Arg<"isIsolated">; result: boolean };
  "bridge.all": { args: Arg<"all">; result: void };
  "bridge.route": { args: Arg<"route">; result: void };
  "bridge.routes": { args: Arg<"routes">; result: string[] };
  "bridge.uplink": { args: Arg<"uplink">; result: void };
  "bridge.gateway": { args: Arg<"gateway">; result: string };
  "nic.counters": { args: Arg<"counters">; result: ReturnType<Bridges["counters"]> };
  "nic.link": { args: Arg<"link">; result: void };
  "nic.info": { args: Arg<"nicInfo">; result: ReturnType<Bridges["nicInfo"]> };
  "nic.of_vm": { args: Arg<"vmNics">; result: string[] };
  "vm.ip": { args: Arg<"ip">; result: string | null };
  "capture.open": { args: Arg<"openCapture">; result: number };
  "capture.next": { args: Arg<"nextFrames">; result: Awaited<ReturnType<Bridges["nextFrames"]>> };
  "capture.read": { args: Arg<"readCapture">; result: Awaited<ReturnType<Bridges["readCapture"]>> };
  "capture.close": { args: Arg<"closeCapture">; result: ReturnType<Bridges["closeCapture"]> };

  /** The runner's own tests (PROVIUM_TEST_HOOKS=1): a crashed worker fails one file. */
  "debug.crash_worker": { args: {}; result: never };
}

type Arg<K extends keyof Bridges> = Bridges[K] extends (a: infer A) => unknown ? A : never;

export type HostOpName = keyof HostApi;
export type HostOps = { [K in HostOpName]: (args: HostApi[K]["args"]) => HostApi[K]["result"] | Promise<HostApi[K]["result"]> };
/** Ops a caller adds for its own Lua program (the REPL's line reader). */
export type ExtraOps = Record<string, (args: any) => unknown>;
