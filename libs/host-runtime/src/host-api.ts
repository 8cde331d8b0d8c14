// The one contract between a test file's Lua half and its host half: every host op Lua may
// call (`P.call(op, args)`) with its argument and result types. The session's op table is
// checked against it at compile time, the Lua sources against its names by a test
// (test/host/contract.test.ts), and guest ops are the keys of `guestOps` (ops/index.ts).
import type { GuestOpName } from "./ops";
import type { DiskSpec } from "./disks";
import type { Bridges } from "./bridges";

/** Which agent a guest op goes to: a VM, and a worker (namespace) in it, 0 = the root. */
export interface Target {
  vm: number;
  worker?: number;
}

interface MadeVm {
  id: number;
  name: string;
  profile: string;
}

export interface HostApi {
  "file.plan": { args: { tests?: { name: string; meta: Record<string, unknown> }[]; timeout?: number }; result: { verdicts: string[] } };
  "test.begin": { args: { name: string; timeout?: number }; result: void };
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
  "console.log": { args: { vm: number }; result: Uint8Array };
  "console.write": { args: { vm: number; data: string | Uint8Array; timeout?: number }; result: true };
  "console.open": { args: { vm: number }; result: number };
  "console.read": { args: { handle: number; timeout_ms: number }; result: { data: Uint8Array; eof: boolean } };
  "console.close": { args: { handle: number }; result: true };
  "disk.attach": { args: { vm: number; spec: DiskSpec }; result: { id: string; device: string } };
  "disk.info": { args: { vm: number; id: string }; result: { id: string; device: string; size: number; readonly: boolean } | null };
  "disk.read_sectors": { args: { vm: number; id: string; lba: number; count: number }; result: Uint8Array };
  "disk.write_sectors": { args: { vm: number; id: string; lba: number; data: string | Uint8Array }; result: true };
  "disk.fault_inject": { args: { vm: number; id: string; kind: string }; result: true };
  "disk.clear_faults": { args: { vm: number; id: string }; result: true };
  "disk.detach": { args: { vm: number; id: string }; result: true };

  guest: { args: { target: Target; op: GuestOpName; args: unknown }; result: unknown };
  "guest.batch": { args: { target: Target; ops: { op: GuestOpName; args: unknown }[] }; result: ({ ok: unknown } | { err: string })[] };

  "lab.barrier": { args: { lab?: unknown; name: string; count: number; timeout: number }; result: boolean };
  "lab.claim": { args: { memory?: number | string; cpus?: number }; result: void };

  "snapshot.create": { args: { vms: number[]; kind: "vm" | "lab"; path?: string; base?: string }; result: { id: number; label: string } };
  "snapshot.restore": { args: { snap: number; vms: number[] }; result: true };
  "snapshot.restore_lab": { args: { vms: number[]; snap?: number; path?: string; base?: string }; result: MadeVm[] };
  "snapshot.size": { args: { snap: number }; result: number };
  "snapshot.path": { args: { snap: number }; result: string };
  "snapshot.delete": { args: { snap: number }; result: true };
  "fixture.vm": { args: { name: string }; result: MadeVm[] };
  "fixture.lab": { args: { name: string }; result: MadeVm[] };

  // Bridges and NICs (bridges.ts): arguments name bridges, VMs and captures by id.
  "bridge.create": { args: Arg<"create">; result: ReturnType<Bridges["create"]> };
  "bridge.attach": { args: Arg<"attach">; result: void };
  "bridge.detach": { args: Arg<"detach">; result: void };
  "bridge.impair": { args: Arg<"impair">; result: void };
  "bridge.partition": { args: Arg<"partition">; result: void };
  "bridge.isolate": { args: Arg<"isolate">; result: void };
  "bridge.all": { args: Arg<"all">; result: void };
  "bridge.uplink": { args: Arg<"uplink">; result: void };
  "bridge.gateway": { args: Arg<"gateway">; result: string };
  "bridge.save": { args: Arg<"save">; result: ReturnType<Bridges["save"]> };
  "bridge.load": { args: Arg<"load">; result: void };
  "nic.counters": { args: Arg<"counters">; result: ReturnType<Bridges["counters"]> };
  "nic.link": { args: Arg<"link">; result: void };
  "nic.info": { args: Arg<"nicInfo">; result: ReturnType<Bridges["nicInfo"]> };
  "vm.ip": { args: Arg<"ip">; result: string | null };
  "capture.open": { args: Arg<"openCapture">; result: number };
  "capture.next": { args: Arg<"nextFrames">; result: Awaited<ReturnType<Bridges["nextFrames"]>> };
  "capture.close": { args: Arg<"closeCapture">; result: ReturnType<Bridges["closeCapture"]> };

  /** The runner's own tests (PROVIUM_TEST_HOOKS=1): a crashed worker fails one file. */
  "debug.crash_worker": { args: {}; result: never };
}

type Arg<K extends keyof Bridges> = Bridges[K] extends (a: infer A) => unknown ? A : never;

export type HostOpName = keyof HostApi;
export type HostOps = { [K in HostOpName]: (args: HostApi[K]["args"]) => HostApi[K]["result"] | Promise<HostApi[K]["result"]> };
/** Ops a caller adds for its own Lua program (the REPL's line reader). */
export type ExtraOps = Record<string, (args: any) => unknown>;
