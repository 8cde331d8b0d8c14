// One way to get a session: the runner's workers, `provium repl`/`console`, `provium fixture`
// and bench/ all set up a test file's host side here. `hostSetup` is the part shared by every
// file of a run; `openSession` adds one file's hooks, with quiet defaults.
import { cacheRoot, chooseAccel, RemoteCache, type AccelRequest } from "@provium/vmm";
import type { RuntimeConfig } from "./config";
import { CapacityPool, hostCapacity } from "./capacity";
import type { Acquire } from "./capacity-claim";
import { lazyFixtureCache } from "./fixture-cache";
import { FileSession, type SessionOptions } from "./session";
import type { HostSetup } from "./host-setup";

export type { HostSetup };


/** How long a booting guest's agent has to answer, by accelerator, unless given. */
export const agentDeadlineMs = (accel: "kvm" | "tcg", givenMs?: number) => givenMs ?? (accel === "kvm" ? 20 : 90) * 1000;

/** Cache dir, accelerator (probed), fixture cache, and a capacity pool of this host's own. */
export async function hostSetup(config: RuntimeConfig, o: { agentEntry: string; accel?: AccelRequest; agentDeadlineMs?: number; acquire?: Acquire }): Promise<HostSetup> {
  const cacheDir = config.cacheDir ?? cacheRoot();
  const accel = await chooseAccel(o.accel ?? "auto", { cacheDir });
  let acquire = o.acquire;
  if (!acquire) {
    const pool = new CapacityPool(hostCapacity());
    acquire = async (want) => (await pool.acquire(want), () => pool.release(want));
  }
  const remote = openRemoteCache(config, (m) => process.stderr.write(`provium: warning: ${m}\n`));
  return { config, cacheDir, agentEntry: o.agentEntry, remote, accel, agentDeadlineMs: agentDeadlineMs(accel, o.agentDeadlineMs), fixtures: lazyFixtureCache(config, cacheDir), acquire };
}

type FileHooks = Omit<SessionOptions, keyof HostSetup | "filePath">;

export function openSession(host: HostSetup, filePath: string, hooks: Partial<FileHooks> = {}): FileSession {
  return new FileSession({
    ...host,
    filePath,
    plan: (tests) => tests.map(() => "filtered"),
    onProgress: () => {},
    onTestBegin: () => {},
    onVmEvent: () => {},
    emit: () => {},
    ...hooks,
  });
}

/** The remote cache provium.toml names, if any; `warn` hears that it is down or served garbage. */
export function openRemoteCache(config: RuntimeConfig, warn: (msg: string) => void): RemoteCache | undefined {
  const r = config.remoteCache;
  return r ? new RemoteCache({ url: r.url, write: r.write, onWarning: warn }) : undefined;
}
