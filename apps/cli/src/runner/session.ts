// The host side of one test file: answers its Lua thread's calls and owns its VMs.
// Every guest op goes through here; VMs are shut down when the file ends.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { GuestError } from "@provium/protocol";
import type { Config } from "../config";
import { unknownProfile } from "../config";
import { GuestVm } from "./guest";
import { prepareImage } from "./images";

export interface SessionOptions {
  config: Config;
  cacheDir: string;
  accel: "kvm" | "tcg";
  filePath: string;
  /** Which tests run: "run", "filtered" (silently dropped), or a reason to skip. */
  plan: (tests: { name: string; meta: Record<string, unknown> }[]) => string[];
  agentDeadlineMs: number;
  onProgress: (msg: string) => void;
  onTestBegin: (name: string, timeoutS?: number) => void;
  onVmEvent: (kind: "vm_spawned" | "vm_shutdown", info: { vm: string; pid: number; run_dir: string }) => void;
}

const DEFAULT_MEMORY_MIB = 512;

type Ops = Record<string, (args: any) => Promise<unknown> | unknown>;

export class FileSession {
  private vms: GuestVm[] = [];
  private names = new Set<string>();
  private ops: Ops;

  constructor(private readonly o: SessionOptions) {
    this.ops = {
      "file.plan": ({ tests }) => ({ verdicts: o.plan(tests ?? []) }),
      "test.begin": ({ name, timeout }) => o.onTestBegin(name, timeout),
      "module.find": ({ name }) => this.findModule(String(name)),
      "vm.create": (a) => this.createVm(a),
      "vm.boot": (a) => this.boot(a.vms ?? [], a.opts),
      "vm.run": (a) => this.run(this.vm(a.vm), a.cmd),
      "vm.shutdown": (a) => this.vm(a.vm).shutdown(),
      "vm.state": (a) => this.vm(a.vm).state,
      "vm.console": (a) => this.vm(a.vm).qemu?.consoleTail(10_000) ?? "",
    };
  }

  handle = async (op: string, args: any) => {
    const fn = this.ops[op];
    if (!fn) throw new Error(`unknown host op '${op}'`);
    return fn(args ?? {});
  };

  /** Console tails of this file's VMs, for failure reports. */
  consoleTails(lines = 15) {
    return this.vms.filter((v) => v.qemu).map((v) => ({ vm: v.spec.name, tail: v.qemu!.consoleTail(lines) }));
  }

  async close() {
    await Promise.allSettled(this.vms.map((v) => v.shutdown()));
  }

  private vm(id: unknown): GuestVm {
    const vm = this.vms[Number(id)];
    if (!vm) throw new Error(`no such vm (id ${id})`);
    return vm;
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
    const results = await Promise.allSettled(
      vms.map(async (vm) => {
        const image = await prepareImage(this.o.config.profiles[vm.spec.profile]!, this.o.cacheDir, this.o.onProgress);
        await vm.boot(image, this.o.accel, this.o.agentDeadlineMs);
      }),
    );
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
  }

  private async run(vm: GuestVm, cmd: { argv: string[]; env?: { name: string; value: string }[]; env_clear?: boolean; cwd?: string; stdin?: string | Uint8Array; timeout_ms?: number }) {
    const agent = vm.ready();
    const stdin = typeof cmd.stdin === "string" ? new TextEncoder().encode(cmd.stdin) : cmd.stdin;
    let r;
    try {
      r = await agent.call({ exec: { argv: cmd.argv, env: cmd.env, envClear: cmd.env_clear, cwd: cmd.cwd, stdin, timeoutMs: cmd.timeout_ms } });
    } catch (e) {
      if (e instanceof GuestError) throw new Error(`run ${cmd.argv.join(" ")}: ${e.message}`);
      throw new Error(`vm ${vm.spec.name}: ${(e as Error).message}${vm.consoleExcerpt()}`);
    }
    const base = { stdout: r.stdout ?? new Uint8Array(), stderr: r.stderr ?? new Uint8Array() };
    if (r.timedOut) return { ...base, exit_code: -2, status: "timed_out", timed_out: true };
    if (r.signal) return { ...base, exit_code: -1, status: "signalled", signal: r.signal, timed_out: false };
    return { ...base, exit_code: r.exitCode, status: "exited", timed_out: false };
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

export function parseMemory(v: unknown): number {
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  const m = typeof v === "string" ? v.trim().match(/^(\d+)\s*([MG])i?B?$/i) : null;
  if (!m) throw new Error(`memory must be MiB as an integer or a string like "512M" or "2G", got ${JSON.stringify(v)}`);
  return Number(m[1]) * (m[2]!.toUpperCase() === "G" ? 1024 : 1);
}

