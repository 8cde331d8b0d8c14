// What every file of a run shares on the host side: the configuration, the caches, the
// accelerator and the capacity pool. open-session.ts makes one; sessions and VM registries take it.
import type { FixtureCache } from "@provium/fixture-cache";
import type { RemoteCache } from "@provium/vmm";
import type { RuntimeConfig } from "./config";
import type { Acquire } from "./capacity-claim";

export interface HostSetup {
  config: RuntimeConfig;
  cacheDir: string;
  /** the guest agent's program (@provium/agent's `agentEntry`), compiled into every image */
  agentEntry: string;
  /** the shared remote cache behind the local one, when provium.toml's [cache] remote names one */
  remote?: RemoteCache;
  accel: "kvm" | "tcg";
  agentDeadlineMs: number;
  /** the fixture cache (which also holds boot templates), opened on first use */
  fixtures: () => FixtureCache;
  /** reserves host capacity (the run's shared pool); resolves to its release */
  acquire: Acquire;
  /** --gdb: a gdbstub per VM; "wait": booting VMs wait for the debugger (--debug) */
  gdb?: "on" | "wait";
}
